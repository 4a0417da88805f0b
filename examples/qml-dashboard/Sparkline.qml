// SPDX-License-Identifier: MIT
// A line chart of recent values of one or more series, drawn on a Canvas, with labelled axes: the
// value scale in a gutter on the left (the curves never reach it) and the time scale below.
import QtQuick

Canvas {
    id: chart

    property var series: []     // [{ values: [numbers, oldest first], color: "#rrggbb" }]
    property int capacity: 300  // points across the full width
    property real seconds: 30   // the time the full width spans (the time axis' scale)
    property bool logScale: false
    property real logMin: 0.01  // log scale: the bottom and top values
    property real logMax: 10000
    property var gridLabels: []  // [{ value, text }]: labelled grid lines (log scale)
    property var tickFormat: v => String(v) // linear scale: the text of a grid line's value
    readonly property int gutter: 48   // the value axis' labels
    readonly property int timeAxis: 13 // the time axis' labels
    readonly property int headroom: 6  // above the top grid line, for its label

    onSeriesChanged: requestPaint()
    onWidthChanged: requestPaint()
    onHeightChanged: requestPaint()

    // The smallest 1, 2, 2.5 or 5 × 10^k at or above v: a round top for the linear scale.
    function niceCeil(v) {
        const p = Math.pow(10, Math.floor(Math.log10(v)));
        for (const m of [1, 2, 2.5, 5, 10])
            if (m * p >= v)
                return m * p;
        return 10 * p;
    }
    // Grid steps up to a round top that keep every label round: 2 → quarters, 1, 2.5, 5 → fifths.
    function stepsFor(top) {
        const m = top / Math.pow(10, Math.floor(Math.log10(top)));
        return Math.abs(m - 2) < 1e-9 ? 4 : 5;
    }

    onPaint: {
        const ctx = getContext("2d");
        ctx.reset();
        const left = chart.gutter, top = chart.headroom;
        const plotWidth = Math.max(1, chart.width - left), bottom = chart.height - chart.timeAxis;
        const plotHeight = Math.max(1, bottom - top);
        const low = Math.log10(chart.logMin), high = Math.log10(chart.logMax);
        let highest = 0;
        for (const s of chart.series)
            for (const v of s.values)
                highest = Math.max(highest, v);
        const scaleTop = chart.niceCeil(highest > 0 ? highest * 1.1 : 1);
        const y = v => top + (chart.logScale
            ? plotHeight * (1 - (Math.log10(Math.min(Math.max(v, chart.logMin), chart.logMax)) - low) / (high - low))
            : plotHeight * (1 - Math.min(Math.max(v, 0), scaleTop) / scaleTop));
        // Value axis: the given labels (log scale), or round steps from 0 to the top (only those two
        // when the chart is short).
        const steps = plotHeight < 60 ? 1 : chart.stepsFor(scaleTop);
        const grid = chart.logScale
            ? chart.gridLabels.map(g => ({ y: y(g.value), text: g.text }))
            : Array.from({ length: steps + 1 }, (_, i) => ({ y: y(scaleTop * i / steps),
                                                          text: chart.tickFormat(scaleTop * i / steps) }));
        ctx.strokeStyle = "#3a414d";
        ctx.fillStyle = "#8a93a3";
        ctx.font = "10px sans-serif";
        ctx.lineWidth = 1;
        ctx.textBaseline = "middle";
        ctx.textAlign = "right";
        for (const g of grid) {
            const gy = Math.round(g.y) + 0.5;
            ctx.beginPath();
            ctx.moveTo(left, gy);
            ctx.lineTo(chart.width, gy);
            ctx.stroke();
            ctx.fillText(g.text, left - 5, gy);
        }
        // Time axis: the last `seconds`, now on the right.
        ctx.textBaseline = "bottom";
        for (let i = 0; i <= 3; ++i) {
            const x = left + plotWidth * i / 3;
            ctx.textAlign = i === 0 ? "left" : i === 3 ? "right" : "center";
            ctx.fillText(i === 3 ? "now" : "\u2212" + Math.round(chart.seconds * (3 - i) / 3) + " s", x, chart.height);
        }
        // The curves, clipped to the plot area.
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, 0, plotWidth, bottom + 1);
        ctx.clip();
        ctx.lineWidth = 2;
        for (const s of chart.series) {
            const start = chart.capacity - s.values.length;
            ctx.strokeStyle = s.color;
            ctx.beginPath();
            s.values.forEach((v, i) => {
                const x = left + plotWidth * (start + i) / (chart.capacity - 1);
                if (i === 0)
                    ctx.moveTo(x, y(v));
                else
                    ctx.lineTo(x, y(v));
            });
            ctx.stroke();
        }
        ctx.restore();
    }
}
