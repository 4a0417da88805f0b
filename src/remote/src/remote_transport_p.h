// SPDX-License-Identifier: MIT
#pragma once
// The devices between a connection and Qt Remote Objects: the source side's ScreenedPipe (the
// client side's ClientPipe is remote_transport.cpp's own), and what a node keeps for the client side.

#include <QByteArray>
#include <QIODevice>
#include <QObject>

#include <algorithm>
#include <cstring>
#include <utility>

namespace rio::detail {

// Past this, the room a connection's buffer took for a large packet goes back once it is empty.
inline constexpr qsizetype ReleasedAbove = 65536;

// The most a connection's socket buffers of what it reads from the system (0: no limit).
void setReadLimit(QIODevice *socket, qint64 bytes);
// Appends what `socket` holds to `buffer`; a socket whose buffer (of `limit` bytes) was full reads
// from the system again. The bytes read.
qint64 readInto(QIODevice *socket, QByteArray &buffer, qint64 limit);

// The client side of one connectToSource() connection: the bytes it has read of its connection
// since it connected (whole packets or not), told at most every ClaimIntervalMs while bytes arrive.
// One of the node's subscribers on it tells the source (RemoteSource::took()), which sees a
// reader's progress that TCP hides until the reader has read about a segment.
class ClientLink final : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;
    quint64 received = 0;
    quint64 told = 0; // the last `received` a subscriber told: one claim per link, not per subscriber
    qint64 held = 0;  // bytes the pipe holds: packets not yet whole, or not yet read by the node

Q_SIGNALS:
    void progressed(quint64 received);
};

// A quarter of a source's deadline pass at its defaults (1 s).
inline constexpr int ClaimIntervalMs = 250;

// The link whose packets the node is reading on this thread (set while the node reads them), so
// that a subscriber finds the link of its own replicas.
inline thread_local ClientLink *t_clientLink = nullptr;

/// The node property that holds a node's TLS configuration (setRemoteTlsConfiguration).
inline constexpr const char *RemoteTlsConfigurationProperty = "_rio_remote_tls";

// What Qt Remote Objects reads of a connection and writes to it, in place of its socket: it holds
// only the whole packets the screen passed (the listener reads the socket, screens and
// appends), and writes go to the socket. A child of the socket.
class ScreenedPipe final : public QIODevice
{
public:
    explicit ScreenedPipe(QIODevice *socket) : QIODevice(socket), m_socket(socket)
    {
        QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    }
    [[nodiscard]] bool isSequential() const override { return true; }
    // While held, none: Qt Remote Objects reads no further packet (it reads while some are).
    [[nodiscard]] qint64 bytesAvailable() const override
    {
        return m_held ? 0 : m_in.size() - m_read + QIODevice::bytesAvailable();
    }
    [[nodiscard]] qint64 bytesToWrite() const override { return m_socket->bytesToWrite(); }
    void append(const char *packet, qint64 size)
    {
        m_in.remove(0, std::exchange(m_read, 0)); // keeps its capacity
        m_in.append(packet, size);
    }
    void hold(bool held) { m_held = held; }
    // What it holds is never read (a refused connection).
    void discard() { m_read = m_in.size(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min(maxSize, m_held ? 0 : m_in.size() - m_read);
        std::memcpy(data, m_in.constData() + m_read, std::size_t(n));
        m_read += n;
        if (m_read == m_in.size() &&
            m_in.capacity() > ReleasedAbove) { // read: a large packet's room goes back
            m_in = QByteArray();
            m_read = 0;
        }
        return n;
    }
    qint64 writeData(const char *data, qint64 size) override
    {
        // A closed connection's writes go nowhere, as a closed socket's would (without a warning).
        if (!m_socket->isOpen())
            return size;
        const qint64 n = m_socket->write(data, size);
        m_written += std::max<qint64>(n, 0);
        return n;
    }

public:
    // The bytes written to the connection: the most its peer can have received.
    [[nodiscard]] qint64 written() const { return m_written; }

private:
    QIODevice *m_socket;
    qint64 m_written = 0;
    QByteArray m_in;   // screened packets, whole
    qint64 m_read = 0; // Qt Remote Objects read up to here
    bool m_held = false;
};

} // namespace rio::detail
