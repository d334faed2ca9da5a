// Draws each chart spec embedded in the page (#trk-charts) with the vendored uPlot.
// The specs are JSON in a non-executable script tag: names reach uPlot as data, and uPlot
// writes labels with textContent, so nothing a user logged is parsed as HTML.
(function () {
  "use strict";
  var node = document.getElementById("trk-charts");
  if (!node) return;
  var specs = JSON.parse(node.textContent);
  // champion blue, challenger red: the same colours as `trk ab report --format html`.
  var colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e", "#17becf"];
  window.trkCharts = specs.map(function (spec, i) {
    var series = [{ label: spec.x_label }].concat(spec.labels.map(function (label, j) {
      return {
        label: label,
        stroke: colors[j % colors.length],
        width: 2,
        spanGaps: true,
        points: { show: true, size: 6 },
      };
    }));
    var opts = {
      title: spec.title,
      width: 520,
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: spec.x_label }, {}],
      series: series,
    };
    return new uPlot(opts, spec.data, document.querySelector('[data-chart="' + i + '"]'));
  });
})();
