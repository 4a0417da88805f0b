// SPDX-License-Identifier: MIT
#pragma once

// What both inspectors (registryio-inspect, registryio-inspect-gui) do before they attach:
// find the applications that serve, and pin the socket of the one attached to.

#include <QList>
#include <QString>
#include <QUrl>

namespace rio::inspect {

/// An application that serves its diagnostics (RIO_INSPECT=1).
struct Served
{
    QString name;    ///< the socket's name, `rio-inspect-<program>-<pid>`
    qint64 pid = 0;  ///< its process
    QString program; ///< the program's name
};

/// The sockets of this user in the temporary folder whose names RIO_INSPECT=1 gives, of processes
/// still running, by name.
[[nodiscard]] QList<Served> servedApplications();

/// The pid at the end of a default name (`rio-inspect-<program>-<pid>`), 0 if none.
[[nodiscard]] qint64 pidOf(const QString &target);

/// Whether the process `pid` has ended (false for 0: not known).
[[nodiscard]] bool hasEnded(qint64 pid);

/// The socket an inspector attaches to, pinned: a hard link to it in a folder of this user's
/// alone, through which every connection goes, reconnections included, so that they reach that
/// socket (the one its process listens on) and never another put at the name later, by the
/// application started again or by another user once it ended.
class Pin
{
public:
    /// Pins `target`'s socket (a name in the temporary folder, or an absolute path, as local: has
    /// it); problem() says why not: nothing there, another user's file at the name, or no link
    /// could be made to it.
    explicit Pin(const QString &target);
    ~Pin();
    Pin(const Pin &) = delete;
    Pin &operator=(const Pin &) = delete;
    /// Why it is not pinned (empty: pinned).
    [[nodiscard]] QString problem() const { return m_problem; }
    /// The URL to connect to: the link.
    [[nodiscard]] QUrl url() const;
    /// Empty while the name still holds the socket pinned; else what became of it, as a
    /// predicate of the name ("stopped serving (its socket is gone)").
    [[nodiscard]] QString changed() const;

private:
    QString m_path;       // the name's socket
    QByteArray m_folder;  // the folder of the link (empty: none)
    quint64 m_device = 0; // the socket pinned
    quint64 m_inode = 0;
    QString m_problem;
};

} // namespace rio::inspect
