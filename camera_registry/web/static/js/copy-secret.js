// The copy buttons beside a one-time password or token secret: the text of the element named by data-copy goes
// to the clipboard, and the button says so.
document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange(); // no clipboard API (plain http): select it for Ctrl+C
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      return;
    }
    button.textContent = button.dataset.copied;
  });
});
