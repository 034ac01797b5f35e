// Draws each report chart from the figure embedded beside its table (JSON, not script).
// With JavaScript off, or if plotly fails to load, the tables carry every number.
(function () {
  "use strict";
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
  }
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("[data-figure]").forEach(function (holder) {
      if (window.Plotly && !holder.hidden) { window.Plotly.Plots.resize(holder); }
    });
  });
})();
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
