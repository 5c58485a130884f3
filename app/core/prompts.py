"""From a topic, a persona and a length to the messages a provider receives."""

from __future__ import annotations

from app.core.types import ChatMessage

WORDS_PER_MINUTE = 150  # a comfortable narration pace
DEFAULT_TARGET_WORDS = 300
MIN_WORDS, MAX_WORDS = 30, 5000

BASE_INSTRUCTIONS = (
    "You write scripts for videos that will be read aloud. Write only the words to be spoken: "
    "no headings, no stage directions, no camera notes, no markdown. Use short paragraphs."
)


def words_for_minutes(minutes: float) -> int:
    return max(MIN_WORDS, round(minutes * WORDS_PER_MINUTE))


def spoken_minutes(words: int) -> float:
    return words / WORDS_PER_MINUTE


def clamp_words(words: int | None) -> int:
    if words is None:
        return DEFAULT_TARGET_WORDS
    return min(MAX_WORDS, max(MIN_WORDS, words))


def build_script_messages(
    topic: str, persona_prompt: str | None, target_words: int
) -> tuple[str, list[ChatMessage]]:
    """The system prompt and the user message for one script."""
    system_prompt = (
        f"{persona_prompt.strip()}\n\n{BASE_INSTRUCTIONS}" if persona_prompt else BASE_INSTRUCTIONS
    )
    minutes = spoken_minutes(target_words)
    user = (
        f"Write a video script about: {topic.strip()}\n"
        f"Length: about {target_words} words (roughly {minutes:.1f} minutes spoken)."
    )
    return system_prompt, [ChatMessage("user", user)]


def estimate_tokens(text: str) -> int:
    """A cheap, deliberately generous token estimate (about 4 characters a token) for admission control."""
    return max(1, (len(text) + 3) // 4)
