// SPDX-License-Identifier: MIT
// The fuzzer's bytes, read as choices (zeros once they run out): what the structure-aware Remote
// fuzzers build their packet sequences from.
#pragma once

#include <QByteArray>

#include <algorithm>
#include <cstddef>
#include <cstdint>

class Choices
{
public:
    Choices(const uint8_t *data, size_t size) : m_data(data), m_size(size) { }
    [[nodiscard]] bool empty() const { return m_at >= m_size; }
    quint8 u8() { return m_at < m_size ? m_data[m_at++] : 0; }
    quint16 u16() { return quint16(u8() | (u8() << 8)); }
    quint32 u32() { return quint32(u16()) | (quint32(u16()) << 16); }
    QByteArray bytes(qsizetype n)
    {
        n = std::min<qsizetype>(n, qsizetype(m_size - std::min(m_at, m_size)));
        QByteArray out(reinterpret_cast<const char *>(m_data + m_at), n);
        m_at += size_t(n);
        return out;
    }

private:
    const uint8_t *m_data;
    size_t m_size;
    size_t m_at = 0;
};
