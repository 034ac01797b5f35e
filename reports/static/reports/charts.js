// Draws each report chart from the figure embedded beside its table (JSON, not script).
// With JavaScript off, or if plotly fails to load, the tables carry every number.
(function () {
  "use strict";
  // US letter less the print margins (print.css): 7.5in at 96px per inch.
  var PRINT_WIDTH = 720;
  var PRINT_HEIGHT = 250;
  function holders() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-figure]"), function (h) {
      return !h.hidden && h.data;
    });
  }
  function draw() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-figure]").forEach(function (holder) {
      var source = document.getElementById(holder.getAttribute("data-figure"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      holder.hidden = false;
      // Static: the chart is a picture of the table beside it (role="img"), with nothing
      // focusable inside; the table is what keyboard and screen-reader users navigate.
      window.Plotly.newPlot(holder, figure.data, figure.layout, {
        staticPlot: true, responsive: true, displayModeBar: false,
      });
    });
    if (printing.matches) { fitForPrint(); }
  }
  // Paper is narrower than most screens: before printing, redraw at the printable width (a
  // chart drawn for the screen would be cut at the page edge); afterwards, fit the screen again.
  function fitForPrint() {
    if (!window.Plotly) { return; }
    holders().forEach(function (holder) {
      window.Plotly.relayout(holder, { width: PRINT_WIDTH, height: PRINT_HEIGHT });
    });
    document.documentElement.setAttribute("data-charts", "print");
  }
  function fitForScreen() {
    if (!window.Plotly) { return; }
    holders().forEach(function (holder) {
      window.Plotly.relayout(holder, { width: null, height: 320, autosize: true });
    });
    document.documentElement.setAttribute("data-charts", "screen");
  }
  var printing = window.matchMedia("print");
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("beforeprint", fitForPrint);
  window.addEventListener("afterprint", fitForScreen);
  printing.addEventListener("change", function (event) {
    if (event.matches) { fitForPrint(); } else { fitForScreen(); }
  });
})();
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
