"""The durable shell: one module per workflow kind."""

from typing import Any

from workflows.cai_contract import CaiContract, CaiFamilyContract
from workflows.delivery import NotificationDelivery
from workflows.scheduled import DeadlineSweep, MinistryReport, RetentionSweep, SessionPlanning
from workflows.visa_application import VisaApplication

WORKFLOWS: list[type[Any]] = [VisaApplication, CaiContract, CaiFamilyContract]
WORKFLOWS += [SessionPlanning, DeadlineSweep, MinistryReport, RetentionSweep]
WORKFLOWS += [NotificationDelivery]
