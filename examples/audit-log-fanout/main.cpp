// SPDX-License-Identifier: MIT
// Pattern: audit-log fan-out. One audit record goes to every sink (memory, file, security
// alerts). A failing sink (disk full) is reported and never stops the others, nor the business
// code that emitted the record.
#include <registryio/registry.h>

#include <cstdio>
#include <deque>
#include <sstream>
#include <stdexcept>
#include <string>

struct AuditRecord
{
    std::string actor;
    std::string action;
    std::string target;
};

int main()
{
    rio::Registry<AuditRecord> audit;
    int reportedFailures = 0;
    audit.setExceptionHandler([&reportedFailures](const rio::ExceptionInfo &) { ++reportedFailures; });

    //! [sinks]
    std::deque<AuditRecord> memory; // the last records, for an admin page
    audit.add([&memory](const AuditRecord &r) {
        memory.push_back(r);
        if (memory.size() > 100)
            memory.pop_front();
    });

    std::ostringstream file; // stands in for a log file
    int lines = 0;
    audit.add([&file, &lines](const AuditRecord &r) {
        file << r.actor << ' ' << r.action << ' ' << r.target << '\n';
        ++lines;
    });

    std::string alerts;
    int alertCount = 0;
    audit.add([&alerts, &alertCount](const AuditRecord &r) {
        if (r.action == "delete") {
            ++alertCount;
            alerts += r.actor + " " + r.action + " " + r.target;
        }
    });

    audit.add([](const AuditRecord &) { throw std::runtime_error("remote sink: disk full"); });

    //! [sinks]

    audit.notify({"alice", "login", "web"});
    audit.notify({"bob", "update", "invoice/7"});
    audit.notify({"alice", "delete", "invoice/7"});

    std::printf("memory sink kept %zu records\n", memory.size());
    std::printf("file sink wrote %d lines\n", lines);
    std::printf("security alerts: %d (%s)\n", alertCount, alerts.c_str());
    std::printf("failing sink reported %d times, others unaffected\n", reportedFailures);

    const bool ok = memory.size() == 3 && lines == 3 && alertCount == 1 && reportedFailures == 3;
    std::printf("audit-log-fanout: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
