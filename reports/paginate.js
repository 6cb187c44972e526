/* Page breaks for wkhtmltopdf on unpatched Qt (Debian's), run inline at the end of every
   document by the report engine, which also fixes the body's width to the printed width so
   that this layout is the printed one. Qt repeats no table header and splits table rows
   across pages; it honours page-break-before on tables and blocks. So, walking the document
   in order with the page height:
   - a row of a table.form that would cross the end of a page ends the table there, and the
     table goes on, on the next page, as a copy with the same columns and its header;
   - any other table (the header block, a signature block) and any .signature block moves to
     the next page whole;
   - text flows as Qt flows it: a line that crosses the end of a page starts the next page;
     so does a row or block taller than a page, which cannot be kept whole.
   ES5 only: Qt WebKit is old. */
function paginate(pageHeightMm) {
  "use strict";
  var probe = document.createElement("div");
  probe.style.height = "100mm";
  document.body.appendChild(probe);
  var pageHeight = probe.getBoundingClientRect().height / 100 * pageHeightMm;
  document.body.removeChild(probe);
  var pageTop = document.body.getBoundingClientRect().top;

  function box(element) { return element.getBoundingClientRect(); }
  function pageEnd() { return pageTop + pageHeight; }
  function toArray(list) { return Array.prototype.slice.call(list); }
  function style(element) { return window.getComputedStyle(element); }

  function skipTo(top) {  // pages that end in the space before `top`
    while (top >= pageEnd()) pageTop = pageEnd();
  }

  function flowText(element) {
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, null, false);
    var range = document.createRange();
    var node, lines, i;
    while ((node = walker.nextNode())) {
      range.selectNodeContents(node);
      lines = range.getClientRects();
      for (i = 0; i < lines.length; i++) {
        skipTo(lines[i].top);
        if (lines[i].bottom > pageEnd()) pageTop = lines[i].top;
      }
    }
  }

  function freezeColumns(table) {
    /* A copy of the table must have the same columns. They are also fitted to the width of
       the page, so that a long unbroken string in a cell (a file name) wraps inside it. */
    var widest = null;
    toArray(table.rows).forEach(function (row) {
      var plain = toArray(row.cells).every(function (cell) { return cell.colSpan === 1; });
      if (plain && (!widest || row.cells.length > widest.cells.length)) widest = row;
    });
    if (!widest) return;
    var widths = toArray(widest.cells).map(function (cell) { return box(cell).width; });
    var total = widths.reduce(function (sum, width) { return sum + width; }, 0);
    var scale = Math.min(1, box(table.parentNode).width / total);
    var columns = document.createElement("colgroup");
    widths.forEach(function (width) {
      var column = document.createElement("col");
      column.style.width = width * scale + "px";
      columns.appendChild(column);
    });
    table.insertBefore(columns, table.firstChild);
    table.style.tableLayout = "fixed";
  }

  function breakBefore(element) {
    element.style.pageBreakBefore = "always";
    pageTop = box(element).top;
  }

  function tableOf(row) { return row.parentNode.parentNode; }

  function keepRow(row) {
    var table = tableOf(row);
    var header = table.tHead ? box(table.tHead).height : 0;
    var first = toArray(table.rows).filter(function (each) { return each.parentNode.tagName !== "THEAD"; })[0] === row;
    var r = box(row);
    skipTo(r.top);
    if (r.bottom <= pageEnd()) return;
    if (r.height > pageHeight - header || (first && box(table).top <= pageTop)) {
      flowText(row);  // it cannot be kept whole
    } else if (first) {  // nothing of the table fits: it starts on the next page
      breakBefore(table);
    } else {
      var rest = table.cloneNode(false);
      toArray(table.children).forEach(function (part) {
        if (part.tagName === "COLGROUP" || part.tagName === "THEAD") rest.appendChild(part.cloneNode(true));
      });
      var body = document.createElement("tbody");
      rest.appendChild(body);
      toArray(table.rows).slice(row.rowIndex).forEach(function (moved) { body.appendChild(moved); });
      rest.style.marginTop = "0";
      table.parentNode.insertBefore(rest, table.nextSibling);
      breakBefore(rest);
    }
  }

  function keepWhole(element) {
    var r = box(element);
    skipTo(r.top);
    if (r.bottom <= pageEnd()) return;
    if (r.height > pageHeight || r.top <= pageTop) flowText(element);
    else breakBefore(element);
  }

  function isBlock(element) {
    return ["inline", "none"].indexOf(style(element).display) < 0;
  }

  var breakPending = false;

  function walk(parent) {
    toArray(parent.children).forEach(function (element) {
      if (element.tagName === "SCRIPT" || element.tagName === "STYLE" || style(element).display === "none") return;
      if (breakPending || style(element).pageBreakBefore === "always") pageTop = box(element).top;
      breakPending = false;
      if (element.tagName === "TABLE" && element.classList.contains("form")) {
        toArray(element.rows).forEach(function (row) {
          if (row.parentNode.tagName !== "THEAD") keepRow(row);
        });
      } else if (element.tagName === "TABLE" || element.classList.contains("signature")) {
        keepWhole(element);
      } else if (toArray(element.children).some(isBlock)) {
        walk(element);
      } else {
        flowText(element);
      }
      breakPending = style(element).pageBreakAfter === "always";
    });
  }

  toArray(document.querySelectorAll("table.form")).forEach(freezeColumns);
  walk(document.body);
}
