"""The simulated meeting: virtual participants driven by a seeded scenario."""

from integrations.sim.adapter import CAPABILITIES, PROFILES, Profile, SimAdapter, SimWorld
from integrations.sim.meeting import Received, SimulatedMeeting, Status
from integrations.sim.scenario import (
    Scenario,
    ScriptedAnswer,
    ScriptedChat,
    ScriptedMove,
    VirtualParticipant,
    default_scenario,
)

__all__ = [
    "CAPABILITIES",
    "PROFILES",
    "Profile",
    "Received",
    "Scenario",
    "ScriptedAnswer",
    "ScriptedChat",
    "ScriptedMove",
    "SimAdapter",
    "SimWorld",
    "SimulatedMeeting",
    "Status",
    "VirtualParticipant",
    "default_scenario",
]
