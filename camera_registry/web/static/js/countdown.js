// Live countdowns to each overwrite deadline: [data-deadline] holds an ISO time. The words come from the page
// (base.html's JSON block "countdown-strings"), in the page's language.
(function () {
  var strings = JSON.parse(document.getElementById("countdown-strings").textContent);
  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }
  function text(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60);
    var time = d ? say(strings.days_hours, { days: d, hours: h }) : say(strings.hours_minutes, { hours: h, minutes: m });
    return say(ms >= 0 ? strings.left : strings.overdue, { time: time });
  }
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = new Date(el.dataset.deadline) - new Date();
      el.textContent = text(left);
      el.classList.toggle("overdue", left < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
