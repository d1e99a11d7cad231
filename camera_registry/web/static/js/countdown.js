// Live countdowns to each overwrite deadline: [data-deadline] holds an ISO time.
(function () {
  function text(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60);
    var body = d ? d + " ngày " + h + " giờ" : h + " giờ " + m + " phút";
    return (ms >= 0 ? "còn " : "quá hạn ") + body;
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
