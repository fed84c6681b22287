// The dashboard's only script: draws the charts the page describes in #dashboard-data with
// Chart.js, and the journey graph with Mermaid. Plain browser JavaScript served as it is, so
// a fresh clone needs no build step; the pages' CSP allows no other script.
'use strict';
(function () {
  var source = document.getElementById('dashboard-data');
  var data = source ? JSON.parse(source.textContent) : {};
  var colours = { entered: '#64748b', sent: '#2563eb', opened: '#0891b2', clicked: '#7c3aed', converted: '#16a34a' };
  var percent = function (value) { return (value * 100).toFixed(value < 0.1 ? 1 : 0) + '\u00a0%'; };

  function funnel(spec) {
    return {
      type: 'bar',
      data: { labels: spec.labels, datasets: [{ label: 'customers', data: spec.values, backgroundColor: spec.labels.map(function (l) { return colours[l] || '#2563eb'; }), borderRadius: 4 }] },
      options: {
        indexAxis: 'y',
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) { var first = spec.values[0]; return c.formattedValue + (first ? ' (' + percent(c.raw / first) + ' of entered)' : ''); } } },
        },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    };
  }

  function steps(spec) {
    return {
      type: 'bar',
      data: { labels: spec.labels, datasets: spec.series.map(function (s) { return { label: s.label, data: s.values, backgroundColor: colours[s.label] || '#94a3b8', borderRadius: 3 }; }) },
      options: { plugins: { legend: { position: 'bottom' } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    };
  }

  // Each arm's 95 % interval as a floating bar, its observed rate as a point on it.
  function intervals(spec) {
    return {
      type: 'bar',
      data: {
        labels: spec.labels,
        datasets: [
          { type: 'bar', label: '95 % interval', data: spec.lower.map(function (low, i) { return low === null ? null : [low, spec.upper[i]]; }), backgroundColor: spec.labels.map(function (_l, i) { return i === spec.controlIndex ? 'rgba(100,116,139,0.35)' : 'rgba(37,99,235,0.35)'; }), borderColor: spec.labels.map(function (_l, i) { return i === spec.controlIndex ? '#64748b' : '#2563eb'; }), borderWidth: 1, barPercentage: 0.45, borderSkipped: false },
          { type: 'line', label: 'observed rate', data: spec.rates, showLine: false, backgroundColor: '#0f172a', borderColor: '#0f172a', pointStyle: 'rectRot', pointRadius: 7, pointBackgroundColor: '#0f172a', pointBorderColor: '#0f172a' },
        ],
      },
      options: {
        indexAxis: 'y',
        plugins: {
          legend: { position: 'bottom' },
          tooltip: { callbacks: { label: function (c) { return c.datasetIndex === 0 ? '95 % interval ' + percent(c.raw[0]) + ' – ' + percent(c.raw[1]) : 'rate ' + percent(c.raw); } } },
        },
        scales: { x: { beginAtZero: true, title: { display: true, text: spec.metric }, ticks: { callback: function (v) { return percent(v); } } } },
      },
    };
  }

  var kinds = { funnel: funnel, steps: steps, intervals: intervals };
  if (window.Chart && data.charts) {
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Object.keys(data.charts).forEach(function (id) {
      var canvas = document.getElementById(id);
      var spec = data.charts[id];
      if (canvas && kinds[spec.kind]) new Chart(canvas, kinds[spec.kind](spec));
    });
    document.body.setAttribute('data-charts', 'drawn');
  }

  if (window.mermaid && document.querySelector('pre.mermaid')) {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral' });
    window.mermaid
      .run({ querySelector: 'pre.mermaid' })
      .then(function () { document.body.setAttribute('data-graph', 'drawn'); })
      .catch(function (err) {
        var note = document.createElement('p');
        note.className = 'problem';
        note.textContent = 'The graph could not be drawn: ' + err.message;
        document.querySelector('pre.mermaid').before(note);
        document.body.setAttribute('data-graph', 'failed');
      });
  }
})();
