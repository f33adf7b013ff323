// The runs of one sync as inline SVG: stacked row counts per run, and durations. Series are
// labelled where they end (the latest run), so no legend is needed.
var CleverTapChart = (function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 960, LEFT = 56, RIGHT = 170, TOP = 12;
  // Stacked: every row read is one of these (deleted profiles are counted apart, on top).
  var SERIES = [
    { key: "rows_accepted", label: "sent", color: "var(--sent)" },
    { key: "rows_unchanged", label: "unchanged", color: "var(--unchanged)" },
    { key: "rows_invalid", label: "invalid", color: "var(--invalid)" },
    { key: "rows_refused", label: "refused", color: "var(--refused)" },
    { key: "profiles_deleted", label: "deleted", color: "var(--deleted)" },
  ];
  // Part of "sent": drawn inside its segment.
  var DUPLICATED = { key: "rows_maybe_duplicated", label: "maybe duplicated", color: "var(--duplicated)" };

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var factors = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < factors.length; i++) if (factors[i] * step >= value) return factors[i] * step;
    return 10 * step;
  }

  function fmtNumber(value) { return Number(value).toLocaleString("en-US"); }

  function shortDate(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return date.toLocaleString("en-GB", { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function frame(height, yMax, unit) {
    var svg = el("svg", { viewBox: "0 0 " + WIDTH + " " + height, class: "chart", role: "img" });
    var plotHeight = height - TOP - 28;
    for (var i = 0; i <= 4; i++) {
      var y = TOP + plotHeight - (plotHeight * i) / 4;
      svg.appendChild(el("line", { class: "grid", x1: LEFT, x2: WIDTH - RIGHT, y1: y, y2: y }));
      svg.appendChild(el("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end" },
        fmtNumber(Math.round((yMax * i) / 4 * 10) / 10) + (i === 4 && unit ? " " + unit : "")));
    }
    return { svg: svg, plotHeight: plotHeight };
  }

  // Dates on the time axis; to the second when every run is within a day.
  function tickLabel(runs) {
    var times = runs.map(function (run) { return new Date(run.when).getTime(); }).filter(isFinite);
    var sameDay = times.length && Math.max.apply(null, times) - Math.min.apply(null, times) < 86400000;
    return function (iso) {
      if (!iso || !sameDay) return shortDate(iso);
      return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    };
  }

  function xAxis(svg, runs, xOf, baseline) {
    var label = tickLabel(runs);
    var ticks = Math.min(runs.length, 5);
    var seen = {};
    for (var i = 0; i < ticks; i++) {
      var index = ticks === 1 ? 0 : Math.round((i * (runs.length - 1)) / (ticks - 1));
      if (seen[index]) continue;
      seen[index] = true;
      var anchor = ticks > 1 && i === 0 ? "start" : ticks > 1 && i === ticks - 1 ? "end" : "middle";
      svg.appendChild(el("text", { x: xOf(index), y: baseline + 18, "text-anchor": anchor }, label(runs[index].when)));
    }
  }

  // Labels at the right edge, each near its y, pushed apart so none overlaps.
  function rightLabels(svg, labels, top, bottom) {
    labels.sort(function (a, b) { return a.y - b.y; });
    for (var i = 1; i < labels.length; i++) labels[i].y = Math.max(labels[i].y, labels[i - 1].y + 15);
    var overflow = labels.length ? labels[labels.length - 1].y - bottom : 0;
    if (overflow > 0) labels.forEach(function (label) { label.y = Math.max(top + 8, label.y - overflow); });
    labels.forEach(function (label) {
      var node = el("text", { x: WIDTH - RIGHT + 10, y: label.y + 4, class: "series", fill: label.color,
        "data-series": label.key, "data-value": label.value }, label.text || label.label + " " + fmtNumber(label.value));
      node.style.fill = label.color;
      svg.appendChild(node);
    });
  }

  function counts(runs, height) {
    var withSummary = runs.filter(function (run) { return run.summary; });
    var present = SERIES.filter(function (series) {
      return withSummary.some(function (run) { return run.summary[series.key] > 0; });
    });
    var total = function (run) {
      return run.summary ? SERIES.reduce(function (sum, s) { return sum + (run.summary[s.key] || 0); }, 0) : 0;
    };
    var yMax = niceMax(Math.max.apply(null, runs.map(total).concat([0])));
    var parts = frame(height, yMax, "");
    var svg = parts.svg, plotHeight = parts.plotHeight, baseline = TOP + plotHeight;
    var step = (WIDTH - LEFT - RIGHT) / runs.length;
    var barWidth = Math.max(1, Math.min(48, step * 0.7));
    var xOf = function (index) { return LEFT + step * index + step / 2; };
    var scale = function (value) { return (value / yMax) * plotHeight; };
    runs.forEach(function (run, index) {
      var group = el("g", { class: "run" + (run.summary && run.summary.dry_run ? " dry" : ""), "data-run-id": run.run_id });
      var x = xOf(index) - barWidth / 2, y = baseline;
      var lines = [shortDate(run.when) + " · " + (run.state || "no state") + (run.summary && run.summary.dry_run ? " · dry run" : "")];
      if (run.summary) {
        SERIES.forEach(function (series) {
          var value = run.summary[series.key] || 0;
          lines.push(series.label + ": " + fmtNumber(value));
          if (!value) return;
          var h = scale(value);
          y -= h;
          group.appendChild(el("rect", { x: x, y: y, width: barWidth, height: Math.max(h, 0.5),
            fill: series.color, "data-series": series.key, "data-value": value }));
          if (series.key === "rows_accepted" && run.summary[DUPLICATED.key]) {
            var dh = scale(run.summary[DUPLICATED.key]);
            group.appendChild(el("rect", { x: x + barWidth * 0.3, y: baseline - dh, width: barWidth * 0.4,
              height: Math.max(dh, 0.5), fill: DUPLICATED.color, "data-series": DUPLICATED.key,
              "data-value": run.summary[DUPLICATED.key] }));
          }
        });
        lines.push(DUPLICATED.label + ": " + fmtNumber(run.summary[DUPLICATED.key] || 0));
      } else {
        lines.push(run.state === "failed" ? "failed before its summary: see the log" : "no summary");
        if (run.state === "failed") {
          group.appendChild(el("text", { x: xOf(index), y: baseline - 4, "text-anchor": "middle",
            class: "series", "data-series": "failed" }, "✕")).style.fill = "var(--failed)";
        }
      }
      group.appendChild(el("title", {}, lines.join("\n")));
      svg.appendChild(group);
    });
    xAxis(svg, runs, xOf, baseline);
    var latest = runs[runs.length - 1];
    var labels = [], y0 = baseline;
    present.forEach(function (series) {
      var value = latest.summary ? latest.summary[series.key] || 0 : 0;
      var h = scale(value);
      labels.push({ key: series.key, label: series.label, value: value, color: series.color, y: y0 - h / 2 });
      y0 -= h;
    });
    if (withSummary.some(function (run) { return run.summary[DUPLICATED.key] > 0; })) {
      var dup = latest.summary ? latest.summary[DUPLICATED.key] || 0 : 0;
      labels.push({ key: DUPLICATED.key, label: DUPLICATED.label, value: dup, color: DUPLICATED.color, y: baseline });
    }
    rightLabels(svg, labels, TOP, baseline);
    return svg;
  }

  function durations(runs, height) {
    var values = runs.map(function (run) { return run.duration; });
    var known = values.filter(function (value) { return value != null; });
    var yMax = niceMax(Math.max.apply(null, known.concat([0])));
    var parts = frame(height, yMax, "s");
    var svg = parts.svg, plotHeight = parts.plotHeight, baseline = TOP + plotHeight;
    var step = (WIDTH - LEFT - RIGHT) / runs.length;
    var xOf = function (index) { return LEFT + step * index + step / 2; };
    var yOf = function (value) { return baseline - (value / yMax) * plotHeight; };
    var points = [];
    values.forEach(function (value, index) { if (value != null) points.push([xOf(index), yOf(value), index]); });
    if (points.length > 1) {
      svg.appendChild(el("polyline", { points: points.map(function (p) { return p[0] + "," + p[1]; }).join(" "),
        fill: "none", stroke: "var(--duration)", "stroke-width": 2 }));
    }
    points.forEach(function (p) {
      var dot = el("circle", { cx: p[0], cy: p[1], r: runs.length > 60 ? 1.5 : 3, fill: "var(--duration)",
        "data-run-id": runs[p[2]].run_id, "data-value": values[p[2]] });
      dot.appendChild(el("title", {}, shortDate(runs[p[2]].when) + ": " + values[p[2]].toFixed(1) + " s"));
      svg.appendChild(dot);
    });
    xAxis(svg, runs, xOf, baseline);
    if (points.length) {
      var last = points[points.length - 1];
      rightLabels(svg, [{ key: "duration", value: values[last[2]], text: "duration " + values[last[2]].toFixed(1) + " s",
        color: "var(--duration)", y: last[1] }], TOP, baseline);
    }
    return svg;
  }

  return { counts: counts, durations: durations, SERIES: SERIES, DUPLICATED: DUPLICATED, shortDate: shortDate, fmtNumber: fmtNumber };
})();
