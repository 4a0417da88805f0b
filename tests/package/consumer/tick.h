// SPDX-License-Identifier: MIT
#pragma once

// A typed event of the consumer's own QML module.

#include <registryio/qml/qml_typed_registry.h>

#include <QObject>
#include <QtQml/qqmlregistration.h>

struct Tick
{
    Q_GADGET
    QML_VALUE_TYPE(tick)
    Q_PROPERTY(int seq MEMBER seq FINAL)

public:
    int seq = 0;
};

RIO_QML_TYPED_REGISTRY(TickRegistry, Tick)
