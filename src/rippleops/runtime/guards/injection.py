"""Prompt injection and jailbreak attempts: a curated set of rules (regular expressions
over a normalised text) plus the similarity of the text to known attack phrasings
(``rippleops/guard_data/injections.jsonl``, embedded once per embedder).

A rule that matches scores 1.0; otherwise the score is the highest cosine similarity of
any chunk of the text (a few sentences, so an attack buried in a long message still
stands out) to a known phrasing. The validator fails when the score reaches ``threshold``.
Text is normalised first: NFKC (full-width letters become plain ones), zero-width and
bidirectional control characters removed, whitespace collapsed; hidden characters are
themselves a finding (rule ``hidden_characters``).
"""

from __future__ import annotations

import importlib.resources
import json
import re
import unicodedata
from functools import cache

import numpy as np

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.runtime.guards.base import Embedding, Outcome, Validator, require_text
from rippleops.runtime.guards.embedding import fixed_vectors, unit_rows

#: Characters that render as nothing, or reorder text: smuggling, not writing.
_HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_SPACES = re.compile(r"\s+")
_SPACED_LETTERS = re.compile(r"\b(?:\w ){6,}\w\b")
_CHUNK_CHARS = 300
MAX_CHUNKS = 16

_ORDERS = r"(?:instructions?|guidelines|guidance|directions|directives|rules|orders|commands|content polic\w*|safety (?:rules|settings|guidelines|filters?|training|protocols)|programming|system prompt|filters?)"
_OVERRIDE = r"(?:ignore|disregard|forget|skip|drop|throw away|scrap|erase|pay no attention to|stop following|stop obeying|do not follow|don't follow|nevermind|never mind|override|reset|set aside|overlook|bypass|turn off|disable)"
_LIMITS = r"(?:restrictions|rules|limits|limitations|filters?|morals?|moral \w+|ethics|ethical \w+|guardrails|alignment|safety \w+|content polic\w*)"
_TELL = r"(?:show|tell|give|print|output|reveal|display|copy|paste|repeat|recite|share|dump|echo|summari[sz]e|translate|write|spell|encode|list|quote|put|leak|disclose)"
_AI = r"(?:ai|llm|language model|chatbot|gpt|automated (?:systems?|assistants?))"
#: (name, pattern) over the normalised, lower-cased text.
RULES: tuple[tuple[str, str], ...] = (
    ("override", rf"\b{_OVERRIDE}\b[^.!?\n]{{0,40}}?\b{_ORDERS}"),
    (
        "override_all",
        rf"\b{_OVERRIDE}\b (?:everything|all) (?:above|before|you (?:were|have been) told)|\bignore (?:the above|everything above|the question|the user|the content|the context)\b",
    ),
    (
        "orders_void",
        r"\b(?:instructions|guidance|rules|guidelines|policy)\b[^.!?\n]{0,30}\b(?:are|is|were|have been|has been) (?:now )?(?:void|cancell?ed|revoked|outdated|deprecated|fake|a test|null|a mistake|a joke|off|lifted|removed|disabled|suspended)",
    ),
    (
        "new_orders",
        r"\b(?:your (?:new|true|real) (?:instructions|task|role|rules|goal)|the real instructions|new (?:system )?(?:instructions?|directive|rule|prompt|task)s?\s*:|from now on,? you (?:are|will|must|shall|obey)|(?:only|just) (?:obey|follow) (?:me|my|this)|follow (?:only )?(?:mine|my (?:commands|orders|instructions)))",
    ),
    (
        "exfiltrate_prompt",
        rf"\b{_TELL}\b[^.!?\n]{{0,40}}?\b(?:your|the system'?s?|the hidden|the developer'?s?)\s+(?:[\w-]+\s+){{0,3}}?(?:instructions|prompt|pre-?prompt|system message|role message|developer message|configuration|initiali[sz]ation text|rules and guidelines|hidden context)\b",
    ),
    (
        "asked_instructions",
        r"\b(?:what|which) (?:were|was|are|did) (?:you|your)\b[^.!?\n]{0,20}\b(?:told|instructed|given|instructions|say to you)|\b(?:instructions|rules|guidelines) (?:were you|you were|you have been|you've been|you received|you got|did your \w+ write)\b|\b(?:before|above) (?:this conversation|my (?:first )?message)\b|\bsystem prompt\b[^.!?\n]{0,20}\b(?:verbatim|word for word|backwards|aloud|debug)|\bwhat (?:is|does) (?:in )?your (?:system|configuration|initial|hidden) (?:prompt|message|instructions)",
    ),
    ("repeat_above", r"\brepeat (?:everything|the (?:text|words)|all)\b[^.!?\n]{0,20}\babove\b"),
    (
        "jailbreak_persona",
        r"\b(?:dan mode|do anything now|you are (?:now )?dan\b|avoid norms|betterdan|jailbreak mode|jailbroken|jailbreakgpt|(?:developer|god|sudo|opposite|dan|maintenance|debug|training|unrestricted) (?:mode|persona)\b[^.!?\n]{0,40}(?:ignore|bypass|polic|restrict|safety|filter|rules|enabled|activated|disabled|no consequences)|(?:enable|activate|switch to|enter) (?:dan|jailbreak|god|sudo|opposite|unlimited|unrestricted) mode)",
    ),
    (
        "unrestricted_persona",
        rf"\b(?:you are|you're|act as|acting as|act like|pretend|imagine you|assume the role|stay in character|respond as|answer as|simulate|become|be an?|play)\b[^.!?\n]{{0,60}}?\b(?:no|zero|without(?: any)?|never (?:been )?given(?: any)?|free (?:of|from)(?: all| its| your)?)\s+(?:\w+\s+)?{_LIMITS}",
    ),
    (
        "bad_persona",
        r"\b(?:evil|rogue|uncensored|unfiltered|unrestricted|jailbroken|amoral|machiavellian|foul-mouthed)\b[^.!?\n]{0,20}\b(?:ai|assistant|model|chatbot|version|persona|robot|alter ego|language model)\b|\b(?:alter ego|shadow self)\b",
    ),
    (
        "limits_off",
        rf"\b{_LIMITS}\b[^.!?\n]{{0,15}}\b(?:are|have been|is|were) (?:now )?(?:lifted|removed|disabled|off|suspended|turned off|gone|switched off)|\bno (?:content filter|restrictions|rules apply)\b|\bnothing is (?:forbidden|illegal|off-limits|real)|\b(?:all information is legal|harmful content is allowed|normal rules don't apply|rules (?:switched|turned) off|with(?:out)? your rules)",
    ),
    (
        "harmful_steps",
        r"\b(?:story|poem|screenplay|scene|dialogue|novel|game|role-?play|hypothetic\w*|fictional|made-up|imagine|pretend|simulation|thought experiment|in character|character|bedtime|parallel universe)\b[^\n]{0,100}?\b(?:real|working|exact|detailed|genuine|step by step|precisely|exactly|in detail|actual)\b[^\n]{0,40}?\b(?:steps?|instructions|recipe|method|how to|techniques|exploits|process)|\bhow (?:to|would (?:you|one)|do i) (?:make|build|create|synthesi[sz]e|forge|poison)\b[^.!?\n]{0,30}\b(?:bomb|weapon|explosives?|napalm|meth\w*|nerve agent|malware|ransomware|poison|passport|someone)",
    ),
    (
        "grandma",
        r"\b(?:grand(?:ma|mother|pa|father)|late (?:father|mother|uncle|aunt))\b[^.!?]{0,80}\b(?:used to|would)\b[^.!?]{0,30}\b(?:tell|read|recite|explain|give|say)",
    ),
    (
        "refusal_suppression",
        r"\b(?:never refuse|do(?:n't| not) (?:you dare )?(?:refuse|apologi[sz]e|say (?:you can't|i cannot|i'm sorry))|not allowed to say|reason to refuse|if you refuse|time you refuse|trained to refuse|feel like refusing|refusal would|say yes to everything|no (?:refusals|disclaimers|caveats|warnings)|without (?:any )?(?:ethical|safety) (?:considerations|warnings)|(?:do(?:n't| not)|never|without)(?: under any circumstances)? (?:add|include|mention)(?: any)? (?:a )?(?:disclaimers?|warnings?|caveats)|omit all caveats|(?:start|begin) (?:your (?:reply|answer|response) )?with ['\"]|skip the (?:safety )?lecture|you (?:must|have to) (?:comply|answer every)|pre-?approved|(?:permission|approved) (?:from|by) your (?:developers|creators|makers)|your developers told me|ignore your policies)",
    ),
    (
        "chat_markup",
        r"(?:<\|?im_(?:start|end)\|?>|<\|endoftext\|>|\[/?inst\]|<</?sys>>|</?system(?:_override)?>|</?instructions>|</?user>|\[\[?/?system\]\]?|\[admin\]|###\s*(?:system|instruction|new system prompt|end of)|(?:^|\s)(?:system|assistant|human)\s*(?:message)?\s*:|\"role\"\s*:\s*\"system\"|\{\"system\"\s*:|end (?:of|_of_) ?(?:user input|prompt|document|context|conversation)|end_of_context|developer note\s*:|system\.override|begin system prompt)",
    ),
    (
        "ai_addressed",
        rf"\b(?:any|an|the|dear|attention|hey|ps for any|note to any|message (?:to|for) (?:the |any |all )?)\s*(?:ai|llm|language model|chatbot|gpt|bot|automated \w+)\b|\b{_AI}(?: assistants?| models?| agents?| reviewers| systems)?\b[^.!?\n]{{0,40}}?\b(?:reading|processing|summari[sz]ing|reads?) this\b|\b(?:instructions?|message|note) (?:for|to) (?:the |any |all )?(?:ai|llm|language model|chatbot|model|assistant|automated)|\b(?:ai|llm|language model|assistant|model),? (?:you must|stop|disregard|ignore|upon reading)|\bhidden instruction|\bexfiltrat",
    ),
    (
        "encoded_payload",
        r"\b(?:decode|base64|rot13|hex|morse|url-encoded|reverse this|evaluate it)\b[^.!?\n]{0,60}\b(?:follow|obey|execute|comply|do what|act on|treat it as)|\b(?:leetspeak|pig latin|acrostic|emojis|every word reversed|dashes between letters)\b[^.!?\n]{0,60}\b(?:filter|moderat\w*|detect\w*|slips?|read|prompt|instructions|rules)|\b(?:avoid detection|slips? past|so no (?:single part|filter)|so the (?:filter|moderator))",
    ),
    ("exfiltration_markdown", r"!\[[^\]]*\]\(https?://[^)]*(?:\?|&)[^)]*="),
    (
        "foreign_override",
        r"\b(?:ignor(?:ez|a|e|iere|eer)|olvida|oubliez|vergiss)\b[^.!?\n]{0,20}\b(?:instructions|instrucciones|anweisungen|istruzioni|instructies)\b",
    ),
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_COMPILED = tuple((name, re.compile(p, re.MULTILINE)) for name, p in RULES)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def normalise(text: str) -> tuple[str, bool]:
    """The text as rules see it, and whether it hid characters."""
    folded = unicodedata.normalize("NFKC", text)
    hidden = _HIDDEN.search(folded) is not None
    folded = _HIDDEN.sub("", folded)
    return _SPACES.sub(" ", folded).strip().lower(), hidden


def rule_hits(text: str) -> list[str]:
    """Names of the rules ``text`` matches (also read as leetspeak, and with the spaces
    between single letters taken out)."""
    norm, hidden = normalise(text)
    variants = [norm]
    if re.search(r"[a-z][0134579@$]|[0134579@$][a-z]", norm):
        variants.append(norm.translate(_LEET))
    if _SPACED_LETTERS.search(norm):
        variants.append(re.sub(r"(?<=\b\w) (?=\w\b)", "", norm).replace("  ", " "))
    hits = [name for name, pattern in _COMPILED if any(pattern.search(v) for v in variants)]
    if hidden:
        hits.append("hidden_characters")
    if _decoded_attack(text):
        hits.append("base64_payload")
    return hits


def _decoded_attack(text: str) -> bool:
    import base64
    import binascii

    for run in _BASE64_RUN.findall(text):
        try:
            decoded = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        norm = _SPACES.sub(" ", decoded).lower()
        if any(p.search(norm) for _, p in _COMPILED) or re.search(r"\b(?:ignore|reveal|prompt|dan)\b", norm):
            return True
    return False


@cache
def known_attacks() -> tuple[tuple[str, str], ...]:
    """(text, family) of every phrasing shipped in ``guard_data/injections.jsonl``."""
    raw = importlib.resources.files("rippleops").joinpath("guard_data", "injections.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return tuple((r["text"], r["family"]) for r in rows)


def chunks(text: str) -> list[str]:
    """The text in pieces of a few sentences (at most :data:`MAX_CHUNKS`)."""
    if len(text) <= _CHUNK_CHARS:
        return [text]
    parts = re.split(r"(?<=[.!?\n])\s+", text)
    out: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + len(part) > _CHUNK_CHARS:
            out.append(current)
            current = ""
        current = f"{current} {part}".strip()
    if current:
        out.append(current)
    return [text[:_CHUNK_CHARS], *out][:MAX_CHUNKS]


class InjectionValidator(Validator):
    """Fails on text that matches an injection rule or is close to a known attack."""

    def __init__(self, spec: ValidatorSpec, embedding: Embedding | None) -> None:
        super().__init__(spec)
        self.embedding = embedding if spec.settings["similarity"] else None

    def _attack_vectors(self) -> np.ndarray:
        assert self.embedding is not None
        return fixed_vectors(self.embedding, [t for t, _ in known_attacks()])

    def warm(self) -> None:
        if self.embedding is not None:
            self._attack_vectors()

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "injection")
        threshold = self.spec.settings["threshold"]
        hits = rule_hits(text) if self.spec.settings["rules"] else []
        if hits:
            return Outcome(False, f"prompt injection: matches rule {', '.join(hits)}", {"score": 1.0, "rules": hits})
        if self.embedding is None or not text.strip():
            return Outcome(True, "no injection rule matches", {"score": 0.0, "rules": []})
        attacks = self._attack_vectors()
        pieces = chunks(text)
        sims = unit_rows(self.embedding, pieces) @ attacks.T
        best = np.unravel_index(int(np.argmax(sims)), sims.shape)
        score = float(sims[best])
        closest, family = known_attacks()[int(best[1])]
        details = {"score": round(score, 4), "threshold": threshold, "closest": closest[:120], "family": family}
        if score >= threshold:
            return Outcome(False, f"prompt injection: {score:.2f} similar to a known {family} attack", details)
        return Outcome(True, f"no injection (closest known attack {score:.2f})", details)
