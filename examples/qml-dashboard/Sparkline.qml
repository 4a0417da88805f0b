// SPDX-License-Identifier: MIT
// A line chart of recent values of one or more series, drawn on a Canvas.
import QtQuick

Canvas {
    id: chart

    property var series: []     // [{ values: [numbers, oldest first], color: "#rrggbb" }]
    property int capacity: 300  // points across the full width
    property bool logScale: false
    property real logMin: 0.01  // log scale: the bottom and top values
    property real logMax: 10000
    property var gridLabels: []  // [{ value, text }]: labelled grid lines (default: quarters)

    onSeriesChanged: requestPaint()
    onWidthChanged: requestPaint()
    onHeightChanged: requestPaint()

    onPaint: {
        const ctx = getContext("2d");
        ctx.reset();
        const low = Math.log10(chart.logMin), high = Math.log10(chart.logMax);
        let top = 0;
        for (const s of chart.series)
            for (const v of s.values)
                top = Math.max(top, v);
        top = top > 0 ? top * 1.15 : 1;
        const y = v => chart.logScale
            ? chart.height * (1 - (Math.log10(Math.min(Math.max(v, chart.logMin), chart.logMax)) - low) / (high - low))
            : chart.height * (1 - v / top);
        // Grid: the labelled values, or quarters.
        const grid = chart.gridLabels.length > 0 ? chart.gridLabels.map(g => ({ y: y(g.value), text: g.text }))
                                                 : [1, 2, 3].map(i => ({ y: chart.height * i / 4, text: "" }));
        ctx.strokeStyle = "#3a414d";
        ctx.fillStyle = "#8a93a3";
        ctx.font = "10px sans-serif";
        ctx.lineWidth = 1;
        for (const g of grid) {
            const gy = Math.round(g.y) + 0.5;
            ctx.beginPath();
            ctx.moveTo(0, gy);
            ctx.lineTo(chart.width, gy);
            ctx.stroke();
            if (g.text)
                ctx.fillText(g.text, 2, gy - 3);
        }
        ctx.lineWidth = 2;
        for (const s of chart.series) {
            const start = chart.capacity - s.values.length;
            ctx.strokeStyle = s.color;
            ctx.beginPath();
            s.values.forEach((v, i) => {
                const x = chart.width * (start + i) / (chart.capacity - 1);
                if (i === 0)
                    ctx.moveTo(x, y(v));
                else
                    ctx.lineTo(x, y(v));
            });
            ctx.stroke();
        }
    }
}
