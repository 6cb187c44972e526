/* On a phone, list tables show each row as a card (app/static/qms/phone.css): every cell
   gets its column's header as a caption (data-label). The tables: those the templates mark
   .qms-cards, and FAB's list widgets (.table-responsive > table.table-hover). A header row whose cells
   sort the list (links) stays as a bar of sort links; cells with nothing in them are hidden.
   FAB's other tables (a record's fields, a form: label | value) are .qms-pairs: the label
   above the value. */
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var textOf = function (cell) { return cell.textContent.replace(/\s+/g, " ").trim(); };

  function headerRow(table) {
    if (table.tHead && table.tHead.rows.length) { return table.tHead.rows[0]; }
    var first = table.rows[0];
    var allHeaders = first && Array.prototype.every.call(first.cells, function (c) { return c.tagName === "TH"; });
    return allHeaders ? first : null;
  }

  function cards(table) {
    table.classList.add("qms-cards");
    var head = headerRow(table);
    if (!head) { return; }
    head.classList.add("qms-cards-head");
    var labels = [];
    each(head.cells, function (cell) {
      if (cell.querySelector("a[href]")) { cell.classList.add("qms-sort"); head.classList.add("qms-sortable"); }
      for (var i = 0; i < cell.colSpan; i++) { labels.push(textOf(cell)); }
    });
    each(table.rows, function (row) {
      if (row === head || row.parentNode === table.tHead) { return; }
      var column = 0;
      each(row.cells, function (cell) {
        if (!textOf(cell) && !cell.querySelector("input, select, textarea, button, a, img, svg, i")) {
          cell.classList.add("qms-cards-empty");
        } else if (labels[column] && cell.colSpan < labels.length && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", labels[column]);
        }
        column += cell.colSpan;
      });
    });
  }

  function setUp(root) {
    each(root.querySelectorAll("table.qms-cards, .table-responsive > table.table-hover"), cards);
    each(root.querySelectorAll(".table-responsive > table.table:not(.qms-cards)"), function (table) {
      table.classList.add("qms-pairs");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  } else {
    setUp(document);
  }
  window.qmsCards = {setUp: setUp};
})();
