// A line chart of recent values of one or more series, drawn on a Canvas.
import QtQuick

Canvas {
    id: chart

    property var series: []     // [{ values: [numbers, oldest first], color: "#rrggbb" }]
    property int capacity: 300  // points across the full width
    property bool logScale: false
    property real logMin: 0.01  // log scale: the bottom and top values
    property real logMax: 10000

    onSeriesChanged: requestPaint()
    onWidthChanged: requestPaint()
    onHeightChanged: requestPaint()

    onPaint: {
        const ctx = getContext("2d");
        ctx.reset();
        ctx.strokeStyle = "#3a414d";
        ctx.lineWidth = 1;
        for (let i = 1; i < 4; ++i) {
            const gy = Math.round(chart.height * i / 4) + 0.5;
            ctx.beginPath();
            ctx.moveTo(0, gy);
            ctx.lineTo(chart.width, gy);
            ctx.stroke();
        }
        let top = 0;
        for (const s of chart.series)
            for (const v of s.values)
                top = Math.max(top, v);
        top = top > 0 ? top * 1.15 : 1;
        const low = Math.log10(chart.logMin), high = Math.log10(chart.logMax);
        const y = v => chart.logScale
            ? chart.height * (1 - (Math.log10(Math.min(Math.max(v, chart.logMin), chart.logMax)) - low) / (high - low))
            : chart.height * (1 - v / top);
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
