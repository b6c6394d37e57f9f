"""The cores of `CaiContract` and `CaiFamilyContract`, in the shape the shell drives."""

from models import cai_rules, caif_rules
from models.cai_state import CaiState, cai_view
from models.caif_state import FamilyState, family_view
from models.dossier import DossierCore
from models.history import CORRECT_EVENT

CAI_CORE = DossierCore(
    kind="cai_contract",
    events=(*cai_rules.EVENTS, CORRECT_EVENT),
    state_type=CaiState,
    open=cai_rules.open_contract,
    receive=cai_rules.receive,
    due_timer=cai_rules.due_timer,
    on_deadline=cai_rules.on_deadline,
    view=cai_view,
)

FAMILY_CORE = DossierCore(
    kind="cai_family_contract",
    events=(*caif_rules.EVENTS, CORRECT_EVENT),
    state_type=FamilyState,
    open=caif_rules.open_family_contract,
    receive=caif_rules.receive,
    due_timer=caif_rules.due_timer,
    on_deadline=caif_rules.on_deadline,
    view=family_view,
)
