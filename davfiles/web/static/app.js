// davfiles web app: progressive enhancement only; every page works without this file.
"use strict";
(function () {
  // "Select all" for the listing's and the trash's checkboxes.
  document.querySelectorAll("table").forEach(function (table) {
    var boxes = table.querySelectorAll("tbody input[type=checkbox]");
    var head = table.querySelector("thead th");
    if (boxes.length < 2 || !head) return;
    var all = document.createElement("input");
    all.type = "checkbox";
    all.setAttribute("aria-label", "Select all");
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    head.replaceChildren(all);
  });
  // Ask before the changes that cannot be undone.
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });
})();
