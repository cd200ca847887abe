/* Konsil analytics: draws the charts and the US map from the figures in #analytics-data (ECharts, vendored).
 * Every chart also has a table view in the page, so nothing is lost without JavaScript. */
(function () {
  "use strict";
  var source = document.getElementById("analytics-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var L = data.labels;
  var COLOURS = ["#1d5fa7", "#6b8fb8", "#c25b12"];
  var charts = [];

  function make(name, option) {
    var el = document.querySelector('[data-chart="' + name + '"]');
    if (!el) return null;
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(Object.assign({ color: COLOURS, animation: false, tooltip: { trigger: "axis" },
      grid: { left: 48, right: 16, top: 32, bottom: 56, containLabel: true } }, option));
    charts.push(chart);
    return chart;
  }

  function bars(name, rows, label) {
    return make(name, {
      xAxis: { type: "category", data: rows.map(function (r) { return r[0]; }), axisLabel: { rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: label, data: rows.map(function (r) { return r[1]; }) }]
    });
  }

  bars("month", data.month, L.cases);
  make("stages", {
    legend: { top: 0 },
    xAxis: { type: "category", data: data.stages.map(function (r) { return r[0]; }), axisLabel: { rotate: 20 } },
    yAxis: { type: "value" },
    series: [
      { type: "bar", name: L.median, data: data.stages.map(function (r) { return r[1]; }) },
      { type: "bar", name: L.p90, data: data.stages.map(function (r) { return r[2]; }) }
    ]
  });
  make("diagnosis", {
    legend: { top: 0 },
    xAxis: { type: "category", data: data.diagnosis.map(function (r) { return r[0]; }) },
    yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + " %"; } } },
    series: [
      { type: "bar", name: L.cases, data: data.diagnosis.map(function (r) { return r[1]; }) },
      { type: "scatter", name: "95 % CI", symbol: "rect", symbolSize: [18, 2],
        data: data.diagnosis.flatMap(function (r, i) { return r[2] === null ? [] : [[i, r[2]], [i, r[3]]]; }) },
      { type: "scatter", name: L.reference, symbol: "diamond", symbolSize: 12,
        data: data.diagnosis.map(function (r, i) { return r[4] === null ? null : [i, r[4]]; }).filter(Boolean) }
    ]
  });

  var mapEl = document.querySelector('[data-chart="map"]');
  if (mapEl) {
    fetch(mapEl.getAttribute("data-geo"), { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (geo) {
        window.echarts.registerMap("us-albers", geo);
        var chart = make("map", { tooltip: { trigger: "item" } });
        var identity = { project: function (p) { return p; }, unproject: function (p) { return p; } };
        function draw(measure) {
          var values = data.map.map(function (r) { return { name: r.state, value: r[measure], label: r.name }; });
          var numbers = values.map(function (v) { return v.value; }).filter(function (v) { return v !== null; });
          var narrow = mapEl.clientWidth < 600;  /* on a phone the key goes under the map, not over the West */
          chart.setOption({
            visualMap: { min: 0, max: Math.max(1, Math.max.apply(null, numbers.concat([0]))), calculable: true,
              orient: narrow ? "horizontal" : "vertical", left: narrow ? "center" : 0, bottom: 0,
              inRange: { color: ["#eef3f9", "#1d5fa7"] }, text: [L[measure], ""] },
            series: [{ type: "map", map: "us-albers", projection: identity, roam: false, name: L[measure],
              top: 8, bottom: narrow ? 64 : 8, left: narrow ? 8 : 96, right: 8,
              data: values, emphasis: { label: { show: false } } }]
          }, { replaceMerge: ["series"] });
          mapEl.setAttribute("data-measure", measure);
        }
        draw("demand");
        document.querySelectorAll('input[name="map-measure"]').forEach(function (input) {
          input.addEventListener("change", function () { if (input.checked) draw(input.value); });
        });
      });
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
