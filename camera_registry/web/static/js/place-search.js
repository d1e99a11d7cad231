// The new request's place search box: typed text is looked for in the commune's registry (names, addresses,
// ids); pasted coordinates or a map app's link are the place itself. The list is a combobox: arrows move,
// Enter picks, Escape closes. Everything shown is put in the page as text, never as HTML.
window.PlaceSearch = (function () {
  var WAIT_MS = 250, MIN_CHARACTERS = 2;

  // `pick(place)` gets the chosen result: {kind, what, label, commune, point: [lon, lat] | null, bounds | null};
  // `strings` are the page's words for no result (`nothing`) and for a search that did not answer (`failed`).
  function attach(input, list, problem, strings, pick) {
    var results = [], active = -1, asked = 0, timer = null;

    function close() {
      results = []; active = -1;
      list.replaceChildren();
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function say(message) {
      problem.textContent = message || "";
      problem.hidden = !message;
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
        item.classList.toggle("active", i === active);
      });
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", list.children[active].id);
        list.children[active].scrollIntoView({ block: "nearest" });
      }
    }

    function choose(place) {
      close();
      say("");
      input.value = place.label;
      pick(place);
    }

    function show(places) {
      close();
      if (!places.length) { say(strings.nothing); return; }
      results = places;
      places.forEach(function (place, i) {
        var item = document.createElement("li"), what = document.createElement("small");
        item.id = "place-result-" + i;
        item.setAttribute("role", "option");
        item.dataset.kind = place.kind;
        item.append(RegistryMap.text("span", place.label));
        what.textContent = place.commune ? place.what + " · " + place.commune : place.what;
        item.append(what);
        item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(place); });
        list.append(item);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(-1);
    }

    // Only the answer to the latest question is shown; `pickCoordinates`: coordinates go straight to the map.
    function search(text, pickCoordinates) {
      var ticket = ++asked;
      fetch(input.dataset.url + "?q=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (answer) {
          if (ticket !== asked) { return; }
          if (!answer.ok) {
            close();
            say(answer.body.errors && answer.body.errors.q ? answer.body.errors.q.join(" ") : strings.failed);
            return;
          }
          say("");
          var places = answer.body.places;
          if (pickCoordinates && places.length && places[0].kind === "coordinates") { choose(places[0]); return; }
          show(places);
        })
        .catch(function () { if (ticket === asked) { close(); say(strings.failed); } });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var text = input.value.trim();
      if (text.length < MIN_CHARACTERS) { asked++; close(); say(""); return; }
      timer = setTimeout(function () { search(text, false); }, WAIT_MS);
    });

    // A paste replaces what was typed: most often coordinates or a link copied from a map app.
    input.addEventListener("paste", function (event) {
      var text = (event.clipboardData || window.clipboardData).getData("text").trim();
      if (!text) { return; }
      event.preventDefault();
      clearTimeout(timer);
      input.value = text;
      search(text, true);
    });

    input.addEventListener("blur", close);  // the results' own mousedown keeps the focus, so a pick still lands

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && results.length) {
        event.preventDefault();
        highlight(Math.min(active + 1, results.length - 1));
      } else if (event.key === "ArrowUp" && results.length) {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter") {
        event.preventDefault();  // never sends the request's form
        if (results.length) {
          choose(results[Math.max(active, 0)]);
        } else if (input.value.trim().length >= MIN_CHARACTERS) {
          clearTimeout(timer);
          search(input.value.trim(), true);
        }
      } else if (event.key === "Escape") {
        close();
      }
    });
  }

  return { attach: attach };
})();
