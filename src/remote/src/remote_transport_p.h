// SPDX-License-Identifier: MIT
#pragma once
// The devices between a connection and Qt Remote Objects: the source side's ScreenedPipe (the
// client side's ClientPipe is remote_transport.cpp's own), and what a node keeps for the client side.

#include <QByteArray>
#include <QIODevice>

#include <algorithm>
#include <cstring>
#include <utility>

namespace rio::detail {

// Past this, the room a connection's buffer took for a large packet goes back once it is empty.
inline constexpr qsizetype ReleasedAbove = 65536;

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
        return m_socket->isOpen() ? m_socket->write(data, size) : size;
    }

private:
    QIODevice *m_socket;
    QByteArray m_in;   // screened packets, whole
    qint64 m_read = 0; // Qt Remote Objects read up to here
    bool m_held = false;
};

} // namespace rio::detail
