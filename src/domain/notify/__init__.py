"""Notifications of job status changes (e-mail, webhooks), sent from an outbox."""

from domain.notify.deliver import DeliverNotifications, DeliveryPolicy, DeliveryRound
from domain.notify.model import (
    Channel,
    JobChange,
    Notification,
    NotificationState,
    NotifyPolicy,
    Recipients,
    State,
    notifications_for,
)
from domain.notify.ports import NotificationOutbox, Notifier
from domain.notify.render import Message, compose

__all__ = [
    "Channel",
    "DeliverNotifications",
    "DeliveryPolicy",
    "DeliveryRound",
    "JobChange",
    "Message",
    "Notification",
    "NotificationOutbox",
    "NotificationState",
    "Notifier",
    "NotifyPolicy",
    "Recipients",
    "State",
    "compose",
    "notifications_for",
]
