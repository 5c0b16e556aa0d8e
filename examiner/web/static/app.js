// examiner serve: keyboard shortcuts. The pages work without this script; it only adds keys.
// An element with data-key="x" is clicked (a button or link) or focused (a field) when x is
// pressed outside a text field. Ctrl+Enter (or Cmd+Enter) in a text area sends its form;
// Escape leaves a field, so that the keys work again.
// On an answer page whose judge's verdict is still to come (data-verdict-url), it polls for the
// verdict and shows it, as text only, without holding the rating form; the suggested rating
// follows the judge's score.
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

(function () {
  var box = document.querySelector("[data-verdict-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-verdict-url");
  var delay = 1000;
  var tries = 0;

  function line(tag, text, cls) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (cls) {
      el.className = cls;
    }
    return el;
  }

  function say(text) {
    box.replaceChildren(line("p", text, "muted"));
  }

  function suggest(rating) {
    var buttons = document.querySelectorAll("button.rating");
    var chosen = null;
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i].value === rating;
      buttons[i].classList.toggle("suggested", on);
      if (on) {
        chosen = buttons[i];
      }
    }
    var named = document.getElementById("suggested-rating");
    if (chosen && named) {
      named.textContent = rating;
    }
    var active = document.activeElement;
    if (chosen && (!active || active === document.body || active.classList.contains("rating"))) {
      chosen.focus();
    }
  }

  function show(verdict) {
    var parts = [line("h2", "The judge's verdict")];
    if (verdict.failed) {
      parts.push(line("p", "notice: the judge could not grade this answer (" + verdict.failed + "); the score above stands.", "notice"));
    } else {
      var score = line("p", "", "score-line");
      score.appendChild(line("b", verdict.score, "big"));
      score.appendChild(document.createTextNode(" " + verdict.label + " · stored with your rating"));
      parts.push(score);
      var list = document.createElement("dl");
      [["right", verdict.right], ["missing", verdict.missing], ["next", verdict.next]].forEach(function (pair) {
        if (pair[1]) {
          list.appendChild(line("dt", pair[0]));
          list.appendChild(line("dd", pair[1]));
        }
      });
      parts.push(list);
    }
    box.replaceChildren.apply(box, parts);
    suggest(verdict.suggested);
  }

  function later() {
    tries += 1;
    if (tries > 180) {
      say("The judge has not answered: the score above stands.");
      return;
    }
    delay = Math.min(delay * 1.25, 4000);
    window.setTimeout(poll, delay);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (reply) {
        return reply.ok ? reply.json() : { state: "unknown" };
      })
      .then(function (verdict) {
        if (verdict.state === "pending") {
          later();
        } else if (verdict.state === "done") {
          show(verdict);
        } else {
          say("The judge's verdict is not coming (the server restarted?): the score above stands.");
        }
      })
      .catch(later);
  }

  window.setTimeout(poll, 500);
})();
