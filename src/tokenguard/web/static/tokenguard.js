// Progressive enhancement for the API token settings page; everything works without it.
(function () {
  "use strict";

  // The page that shows a new secret answered a POST: make a reload do a GET,
  // so the secret is gone instead of being posted (and created) again.
  // The page's own element (in our layout or the host's) carries its data: <div class="tokenguard">.
  var root = document.querySelector(".tokenguard[data-replace-url]") || document.querySelector(".tokenguard");
  var replaceUrl = root && root.getAttribute("data-replace-url");
  var copiedLabel = (root && root.getAttribute("data-copied-label")) || "Copied";
  if (replaceUrl && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", replaceUrl);
  }
  if (replaceUrl) {
    // Browsers keep even a no-store page in their back/forward cache: Back would show the
    // secret again. Take it out of the page as it is left, and reload a page brought back.
    window.addEventListener("pagehide", function () {
      var shown = document.querySelectorAll("section.secret");
      for (var i = 0; i < shown.length; i++) { shown[i].parentNode.removeChild(shown[i]); }
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) { window.location.replace(replaceUrl); }
    });
  }

  function copyText(text, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = copiedLabel;
      button.classList.add("copied");
      window.setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(button); });
    } else {
      selectText(button);
    }
  }

  function selectText(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      if (document.execCommand("copy")) { button.textContent = copiedLabel; }
    } catch (e) { /* selected: the user can press Ctrl+C */ }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (target) { copyText(target.textContent, button); }
    });
  });

  // Forms that destroy something ask first; "confirm=yes" then skips the confirmation page.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      if (!form.querySelector("input[name=confirm]")) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "confirm";
        input.value = "yes";
        form.appendChild(input);
      }
    });
  });

  // Show the custom date only when "Custom date" is chosen.
  var expires = document.getElementById("expires");
  var custom = document.querySelector("[data-shown-for=custom]");
  if (expires && custom) {
    var sync = function () { custom.hidden = expires.value !== "custom"; };
    expires.addEventListener("change", sync);
    sync();
  }
})();
