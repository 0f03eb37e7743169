// The figures page's charts (Chart.js from the npm registry, served by the console): the series come in the
// section's data-figures attribute (JSON, the same numbers as /staff/figures/data), never from an inline script.
// Each canvas says it has been drawn with data-rendered="1" (what the browser test waits for).
(function () {
  "use strict";
  var section = document.querySelector("[data-figures]");
  if (!section || !window.Chart) {
    return;
  }
  var palette = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#1098ad", "#495057"];

  function draw(canvas, type, labels, datasets, extra) {
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      spanGaps: true,
      plugins: { legend: { display: datasets.length > 1 } },
      scales: { y: { beginAtZero: true } },
    };
    if (extra && extra.stacked) {
      options.scales = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };
    }
    new window.Chart(canvas, { type: type, data: { labels: labels, datasets: datasets }, options: options });
    canvas.setAttribute("data-rendered", "1");
  }

  function series(label, values, n) {
    var color = palette[n % palette.length];
    return { label: label, data: values, borderColor: color, backgroundColor: color, tension: 0.2 };
  }

  var data;
  try {
    data = JSON.parse(section.getAttribute("data-figures"));
  } catch (error) {
    return;
  }
  Promise.resolve(data)
    .then(function (data) {
      var kind = data.labels.length > 1 ? "line" : "bar";
      section.querySelectorAll("canvas[data-series]").forEach(function (canvas) {
        var name = canvas.getAttribute("data-series");
        if (name === "online") {
          draw(canvas, kind, data.labels, [series("Đặt trực tuyến (%)", data.online_share, 0)]);
        } else if (name === "reception") {
          draw(canvas, kind, data.labels, [
            series("Trung vị (giây)", data.reception_median, 0),
            series("p90 (giây)", data.reception_p90, 1),
          ]);
        } else if (name === "no_show") {
          draw(canvas, kind, data.labels, [series("Không đến (%)", data.no_show_rate, 1)]);
        } else if (name === "bookings") {
          draw(
            canvas,
            "bar",
            data.labels,
            data.bookings.map(function (item, n) {
              return series(item.label, item.values, n);
            }),
            { stacked: true }
          );
        }
      });
    })
    .catch(function () {
      var note = document.createElement("p");
      note.className = "error";
      note.textContent = "Không tải được biểu đồ. Vui lòng tải lại trang.";
      section.appendChild(note);
    });
})();
