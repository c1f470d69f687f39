"""Errors that carry a Korean message fit to show a Discord user.

Kept free of Discord types so provider clients can raise them; the bot's central
error handler shows `user_message` and logs `log_message` (English, secret-free).
"""

from __future__ import annotations


class UserFacingError(Exception):
    """Base for failures the user should read about in Korean."""

    user_message: str = "요청을 처리하지 못했어요. 잠시 후 다시 시도해 주세요."

    def __init__(self, log_message: str, *, user_message: str | None = None) -> None:
        super().__init__(log_message)
        if user_message is not None:
            self.user_message = user_message

    @property
    def log_message(self) -> str:
        return str(self)


class InvalidInputError(UserFacingError):
    """A command option the user typed is empty, too long or malformed."""


class ProviderError(UserFacingError):
    """An outside AI provider failed. Subclasses say how; the base covers the rest.

    `provider` names the service ("openai"), `request_id` is the provider's id for the
    request (OpenAI's `x-request-id`) and is appended to the English log message, so an
    operator can quote it to the provider. `mid_stream` is True when the failure came after
    part of the answer had already arrived (the caller keeps that part).
    """

    user_message = "AI 서비스가 요청을 처리하지 못했어요. 관리자에게 알려 주세요."

    def __init__(
        self,
        log_message: str,
        *,
        provider: str,
        request_id: str | None = None,
        user_message: str | None = None,
        mid_stream: bool = False,
    ) -> None:
        if request_id:
            log_message = f"{log_message} (request id {request_id})"
        super().__init__(log_message, user_message=user_message)
        self.provider = provider
        self.request_id = request_id
        self.mid_stream = mid_stream


class ProviderRateLimited(ProviderError):
    """429: too many requests (after the client's own bounded retries), or quota spent."""

    user_message = "지금 AI 요청이 몰려 있어요. 잠시 후 다시 시도해 주세요."

    def __init__(
        self,
        log_message: str,
        *,
        provider: str,
        request_id: str | None = None,
        user_message: str | None = None,
        mid_stream: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(
            log_message,
            provider=provider,
            request_id=request_id,
            user_message=user_message,
            mid_stream=mid_stream,
        )
        self.retry_after_s = retry_after_s


class ProviderAuthFailed(ProviderError):
    """401/403: the key is wrong, revoked or not allowed. Only an operator can fix it."""

    user_message = "AI 서비스 인증에 실패했어요. 관리자에게 알려 주세요."


class ProviderTimeout(ProviderError):
    """The provider did not answer (or finish answering) in time."""

    user_message = "AI의 응답이 너무 늦어요. 잠시 후 다시 시도해 주세요."


class ProviderUnavailable(ProviderError):
    """5xx, a refused or dropped connection, or an error in the middle of the answer."""

    user_message = "AI 서비스에 지금 연결할 수 없어요. 잠시 후 다시 시도해 주세요."


class ContentRefused(ProviderError):
    """The model refused, or the provider's content filter stopped the answer."""

    user_message = "이 요청에는 답할 수 없어요. 질문을 바꿔서 다시 시도해 주세요."


class ContextTooLong(ProviderError):
    """The conversation no longer fits the model's context window."""

    user_message = "대화가 너무 길어졌어요. 대화를 새로 시작해 주세요 (새대화:True)."


class ImagesNotSupported(ProviderError):
    """The configured model does not accept image input."""

    user_message = "지금 모델은 이미지를 볼 수 없어요. 이미지 없이 다시 질문해 주세요."


class ProviderOutOfCredit(ProviderError):
    """The account has no balance or credits left (MiniMax 1008, Stability 402)."""

    user_message = "AI 서비스 잔액이 부족해요. 관리자에게 알려 주세요."


class ProviderQuotaExhausted(ProviderError):
    """The key's usage limit is used up (MiniMax 2056); waiting seconds will not help."""

    user_message = "AI 서비스 사용 한도를 모두 썼어요. 관리자에게 알려 주세요."


class InvalidProviderRequest(ProviderError):
    """The provider rejected the request's parameters (MiniMax 2013, Stability 400/413/422)."""

    user_message = "AI 서비스가 요청 내용을 받아들이지 않았어요. 옵션을 바꿔서 다시 시도해 주세요."
