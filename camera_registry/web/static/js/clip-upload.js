/* Resumable clip upload (tus, through tus-js-client) for the owner's page and the police request page.
 *
 * The container's data-* attributes carry the endpoint, the limits and the page's messages (in the page's
 * language); every message is put in with textContent. Without this script (or tus support) the plain upload
 * form stays. The upload goes on after a dropped connection (when the browser is back online), after Pause
 * and Continue, and after a reload: tus-js-client remembers the upload's address for this file in the
 * browser, so choosing the same file again continues from the bytes the server kept.
 */
(function () {
  "use strict";

  function setUp(root) {
    if (!window.tus || !window.tus.isSupported) {
      return;
    }
    var fallback = document.getElementById(root.dataset.fallback || "upload-form");
    if (fallback) {
      fallback.hidden = true;
    }
    root.hidden = false;

    var messages = JSON.parse(root.dataset.messages);
    var maxBytes = Number(root.dataset.maxBytes);
    var chunkBytes = Number(root.dataset.chunkBytes) || Infinity;
    var fileInput = root.querySelector("input[type=file]");
    var recorderTime = root.querySelector("input[name=recorder_time]");
    var clockCorrect = root.querySelector("input[name=clock_correct]");
    var start = root.querySelector("#upload-start, .upload-start");
    var pause = root.querySelector("#upload-pause, .upload-pause");
    var resume = root.querySelector("#upload-resume, .upload-resume");
    var progress = root.querySelector("progress");
    var status = root.querySelector("[role=status]");
    var upload = null;
    var checkedAt = null;
    var waitingForNetwork = false;

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? "error" : "";
    }

    function size(bytes) {
      var units = ["B", "KB", "MB", "GB"];
      var unit = 0;
      while (bytes >= 1024 && unit < units.length - 1) {
        bytes /= 1024;
        unit += 1;
      }
      return (unit === 0 ? bytes.toFixed(0) : bytes.toFixed(1)) + " " + units[unit];
    }

    function running(isRunning) {
      start.hidden = true;
      pause.hidden = !isRunning;
      resume.hidden = isRunning;
      fileInput.disabled = true;
    }

    // The moment the uploader read the recorder's clock: when they typed what it shows.
    recorderTime.addEventListener("change", function () {
      checkedAt = new Date();
    });

    function metadata(file) {
      var values = {filename: file.name, filetype: file.type || "application/octet-stream"};
      if (clockCorrect.checked) {
        values.clock_correct = "1";
        values.clock_checked_at = new Date().toISOString();
      } else {
        values.recorder_time = recorderTime.value;
        values.clock_checked_at = (checkedAt || new Date()).toISOString();
      }
      return values;
    }

    function failed(error) {
      running(false);
      var code = error.originalResponse ? error.originalResponse.getStatus() : 0;
      if (!navigator.onLine || code === 0) {
        waitingForNetwork = true;
        say(messages.offline, true);
      } else {
        say(messages["status_" + code] || messages.failed, true);
        if (code === 403 || code === 413 || code === 415) {
          resume.hidden = true;
        }
      }
    }

    function go() {
      waitingForNetwork = false;
      running(true);
      upload.start();
    }

    start.addEventListener("click", function () {
      var file = fileInput.files[0];
      if (!file) {
        say(messages.choose_file, true);
        return;
      }
      if (file.size > maxBytes) {
        say(messages.too_large, true);
        return;
      }
      if (!clockCorrect.checked && !recorderTime.value) {
        say(messages.clock_needed, true);
        return;
      }
      var headers = root.dataset.csrf ? {"X-CSRFToken": root.dataset.csrf} : {};
      upload = new window.tus.Upload(file, {
        endpoint: root.dataset.endpoint,
        chunkSize: chunkBytes,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
        metadata: metadata(file),
        headers: headers,
        removeFingerprintOnSuccess: true,
        onProgress: function (sent, total) {
          progress.hidden = false;
          progress.value = total ? Math.floor(sent * 100 / total) : 0;
          progress.dataset.sent = String(sent);
          say(messages.uploading.replace("%(percent)s", progress.value + "%").replace("%(size)s", size(total)));
        },
        onError: failed,
        onSuccess: function () {
          pause.hidden = true;
          resume.hidden = true;
          progress.value = 100;
          say(messages.done);
          root.dataset.done = "1";
          window.location.assign(root.dataset.doneUrl);
        }
      });
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) {
          upload.resumeFromPreviousUpload(previous[0]);
        }
        go();
      });
    });

    pause.addEventListener("click", function () {
      if (!upload) {
        return;
      }
      upload.abort();
      running(false);
      say(messages.paused);
    });

    resume.addEventListener("click", function () {
      if (upload) {
        go();
      }
    });

    window.addEventListener("online", function () {
      if (waitingForNetwork && upload) {
        say(messages.resuming);
        go();
      }
    });
  }

  document.querySelectorAll(".tus-upload").forEach(setUp);
}());
