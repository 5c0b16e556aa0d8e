// examiner serve: keyboard shortcuts. The pages work without this script; it only adds keys.
// An element with data-key="x" is clicked (a button or link) or focused (a field) when x is
// pressed outside a text field. Ctrl+Enter (or Cmd+Enter) in a text area sends its form;
// Escape leaves a field, so that the keys work again.
"use strict";

(function () {
  function typing(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    return tag === "textarea" || tag === "select" || (tag === "input" && target.type !== "submit" && target.type !== "button");
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA" && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.key === "Escape" && typing(target)) {
      target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target) || event.key.length !== 1) {
      return;
    }
    var wanted = document.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
    if (!wanted) {
      return;
    }
    event.preventDefault();
    if (wanted.tagName === "INPUT") {
      wanted.focus();
      wanted.select();
    } else {
      wanted.click();
    }
  });
})();
