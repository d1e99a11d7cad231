/* Register imports (/admin/imports): the upload with its progress bar, then the job's progress until it settles.
 *
 * On the list page the form is sent by XMLHttpRequest, so the bar follows the bytes sent; the server answers
 * 202 with the job's page, which this script opens. On a job's page that has not settled the script asks the
 * job's status route every second and moves the bar; once the job settles it reloads the page, which shows
 * the counts or the row errors. Messages come in the page's language from data-messages and go in with
 * textContent. Without this script the form posts as usual and the job page shows where the job stood.
 */
(function () {
  "use strict";

  var POLL_MS = 1000;

  function setUpUpload(form) {
    var messages = JSON.parse(form.dataset.messages);
    var maxBytes = Number(form.dataset.maxBytes);
    var fileInput = form.querySelector("input[type=file]");
    var button = form.querySelector("button[type=submit]");
    var progress = form.querySelector("progress");
    var status = form.querySelector("[role=status]");

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "error" : "";
    }

    function refused(xhr) {
      var reasons = [];
      try {
        var errors = JSON.parse(xhr.responseText).errors || {};
        Object.keys(errors).forEach(function (field) {
          reasons = reasons.concat(errors[field]);
        });
      } catch (ignored) {
        reasons = [];
      }
      say(reasons.length ? reasons.join(" ") : messages.failed, true);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = fileInput.files[0];
      if (!file) {
        say(messages.choose_file, true);
        return;
      }
      if (file.size > maxBytes) {
        say(messages.too_large, true);
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (sent) {
        if (sent.lengthComputable) {
          progress.value = Math.floor(sent.loaded * 100 / sent.total);
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 202) {
          window.location.assign(JSON.parse(xhr.responseText).url);
          return;
        }
        button.disabled = false;
        progress.hidden = true;
        refused(xhr);
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        progress.hidden = true;
        say(navigator.onLine ? messages.failed : messages.offline, true);
      });
      button.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      say(messages.uploading, false);
      xhr.send(new FormData(form));
    });
  }

  function followJob(root) {
    var progress = root.querySelector("progress");
    var status = root.querySelector("#import-status");
    var percent = root.querySelector("#import-percent");
    var rows = root.querySelector("#import-rows");

    function poll() {
      var xhr = new XMLHttpRequest();
      xhr.open("GET", root.dataset.statusUrl);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        if (xhr.status !== 200) {
          window.setTimeout(poll, POLL_MS);
          return;
        }
        var job = JSON.parse(xhr.responseText);
        progress.value = job.percent;
        percent.textContent = job.percent + " %";
        status.textContent = job.status_text;
        rows.textContent = root.dataset.rowsText
          .replace("{done}", job.rows_done)
          .replace("{total}", job.rows_total === null ? "?" : job.rows_total);
        if (job.settled) {
          window.location.reload();
        } else {
          window.setTimeout(poll, POLL_MS);
        }
      });
      xhr.addEventListener("error", function () {
        window.setTimeout(poll, POLL_MS);
      });
      xhr.send();
    }

    poll();
  }

  var form = document.getElementById("import-form");
  if (form) {
    setUpUpload(form);
  }
  var job = document.getElementById("import-progress");
  if (job && job.dataset.settled !== "1") {
    followJob(job);
  }
})();
