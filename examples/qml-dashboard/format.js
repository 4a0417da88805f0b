// SPDX-License-Identifier: MIT
// Short numbers for panels that run for hours: 1.2 M, 7.6 MB, 350 µs.
.pragma library

function scaled(n, steps) {
    n = Number(n) || 0;
    const a = Math.abs(n);
    for (const [scale, suffix] of steps) {
        if (a >= scale)
            return (n / scale).toFixed(a / scale >= 99.95 ? 0 : 1).replace(/\.0$/, "") + suffix;
    }
    return Math.round(n).toString();
}

function count(n) {
    return scaled(n, [[1e12, "\u00a0T"], [1e9, "\u00a0G"], [1e6, "\u00a0M"], [1e3, "\u00a0k"]]);
}

function bytes(n) {
    return scaled(n, [[1e12, "\u00a0TB"], [1e9, "\u00a0GB"], [1e6, "\u00a0MB"], [1e3, "\u00a0kB"]]) + (Math.abs(n) < 1e3 ? "\u00a0B" : "");
}

function duration(ms) {
    ms = Number(ms) || 0;
    if (ms < 1)
        return Math.round(ms * 1000) + "\u00a0µs";
    if (ms < 1000)
        return ms.toFixed(ms < 10 ? 1 : 0) + "\u00a0ms";
    if (ms < 60e3)
        return (ms / 1000).toFixed(1) + "\u00a0s";
    if (ms < 3600e3)
        return (ms / 60e3).toFixed(1) + "\u00a0min";
    return scaled(ms / 3600e3, [[1e3, "\u00a0k"]]) + "\u00a0h";
}

// A key's ticker symbol: 0 -> "AAA", 1 -> "AAB", ...
function symbol(key) {
    let s = "";
    for (let i = 0; i < 3; ++i, key = Math.floor(key / 26))
        s = String.fromCharCode(65 + key % 26) + s;
    return s;
}
