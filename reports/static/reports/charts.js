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
      window.Plotly.newPlot(holder, figure.data, figure.layout, {
        displaylogo: false, responsive: true, staticPlot: false,
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
