// SPDX-License-Identifier: MIT
#pragma once

// What both inspectors (registryio-inspect, registryio-inspect-gui) do before they attach:
// find the applications that serve, and check that a name is a socket of this user.

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

/// `rio-inspect-app-42` or `local:rio-inspect-app-42` as the URL to connect to.
[[nodiscard]] QUrl urlOf(const QString &target);

/// The pid at the end of a default name (`rio-inspect-<program>-<pid>`), 0 if none.
[[nodiscard]] qint64 pidOf(const QString &target);

/// Whether the process `pid` has ended (false for 0: not known).
[[nodiscard]] bool hasEnded(qint64 pid);

/// Empty when `target`'s socket (a name in the temporary folder, or an absolute path, as local:
/// has it) is a socket of this user; else why it is not attached to: nothing there, or another
/// user's file at the name (a socket left open to all, put there before the application listens
/// or after it ended, would answer for it).
[[nodiscard]] QString socketProblem(const QString &target);

} // namespace rio::inspect
