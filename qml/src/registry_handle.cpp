#include "qml_registry_shared.h"

#include <registryio/qml_registry.h>
#include <registryio/registry_handle.h>

#include <QJSEngine>

#include <utility>

namespace rio {

RegistryHandle::RegistryHandle(std::shared_ptr<detail::QmlRegistryShared> shared, QJSEngine *engine,
                               QJSValue handler, int priority, QObject *parent)
    : QObject(parent), m_shared(std::move(shared)), m_engine(engine), m_handler(std::move(handler)),
      m_priority(priority)
{
    // Any thrown value (not only Error objects) comes back as { thrown: value }.
    m_trampoline = engine->evaluate(QStringLiteral(
        "(function (handler, event) { try { handler(event); } catch (e) { return { thrown: e }; } })"));
}

RegistryHandle::~RegistryHandle()
{
    if (QmlRegistry *registry = m_shared->local())
        registry->registry().remove(m_id);
}

bool RegistryHandle::isActive() const
{
    QmlRegistry *registry = m_shared->local();
    return registry != nullptr && registry->registry().contains(m_id);
}

bool RegistryHandle::remove()
{
    QmlRegistry *registry = m_shared->local();
    return registry != nullptr && registry->registry().remove(m_id);
}

void RegistryHandle::deliver(const QVariant &event)
{
    QJSEngine *engine = m_engine.data();
    if (engine == nullptr)
        return;
    const QJSValue result = m_trampoline.call({m_handler, engine->toScriptValue(event)});
    QJSValue thrown;
    if (result.isError())
        thrown = result; // the trampoline itself failed (should not happen)
    else if (result.isObject() && result.hasOwnProperty(QStringLiteral("thrown")))
        thrown = result.property(QStringLiteral("thrown"));
    else
        return;
    QString file;
    int line = 0;
    if (thrown.isError()) {
        file = thrown.property(QStringLiteral("fileName")).toString();
        line = thrown.property(QStringLiteral("lineNumber")).toInt();
    }
    if (QmlRegistry *registry = m_shared->local())
        registry->reportScriptFailure(m_id, thrown.toString(), file, line, true);
}

} // namespace rio
