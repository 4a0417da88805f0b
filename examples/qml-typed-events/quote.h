// SPDX-License-Identifier: MIT
#pragma once

// The example's event type and its typed registry, registered in the module TypedQuotes.

#include <registryio/qml/qml_typed_registry.h>

#include <QObject>
#include <QString>
#include <QtQml/qqmlregistration.h>

// [quote]
// A price quote: a gadget, so QML knows its properties and their types.
struct Quote
{
    Q_GADGET
    QML_VALUE_TYPE(quote)
    Q_PROPERTY(QString symbol MEMBER symbol FINAL)
    Q_PROPERTY(double price MEMBER price FINAL)

public:
    QString symbol;
    double price = 0;
};

// QML types QuoteRegistry and QuoteRegistryHandler (onNotified: (event) => event.price).
RIO_QML_TYPED_REGISTRY(QuoteRegistry, Quote)
// [quote]
