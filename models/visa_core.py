"""`VisaApplication`'s core, in the shape the durable shell drives."""

from models import visa_rules
from models.dossier import DossierCore
from models.history import CORRECT_EVENT
from models.visa_state import VisaState, visa_view

VISA_CORE = DossierCore(
    kind="visa_application",
    events=(*visa_rules.EVENTS, CORRECT_EVENT),
    state_type=VisaState,
    open=visa_rules.open_dossier,
    receive=visa_rules.receive,
    due_timer=visa_rules.due_timer,
    on_deadline=visa_rules.on_deadline,
    view=visa_view,
)
