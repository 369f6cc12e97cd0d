"""The bot's half of the composition root, loaded with aiogram once the port is bound.

``Adapters`` declares the production adapters of every role that is not PostgreSQL's (those
come in as ``database``, the ``Database`` container of ``entrypoints/application.py``); the
shared HTTP client and the Bot session are resources, closed by ``shutdown_resources()``.
``UseCases`` wires the core's use cases on them, and ``BotContainer`` adds aiogram's
dispatcher, the inbox workers that feed it, and the Kie.ai callback routes. Tests build the
same ``BotContainer`` on an in-memory database and override single adapters (clock, Bot API).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import Update
from dependency_injector import containers, providers
from pydantic import ValidationError

from adapters.catalog.loader import DEFAULT_DIR, load_catalog
from adapters.http.kie_callback import KieCallbackDeps, kie_callback_routes
from adapters.http.updates import user_id
from adapters.media.downloader import HttpxDownloader
from adapters.system import RandomIds, SystemClock
from adapters.telegram.chat import AiogramChat
from adapters.telegram.commands import CommandMenu
from adapters.telegram.context import BotServices, UserContextMiddleware
from adapters.telegram.handlers import build_router
from adapters.telegram.i18n import Translator
from adapters.telegram.refunder import AiogramStarsRefunder
from core.domain.catalog import Catalog
from core.domain.money import Pricing
from core.ports.clock import ClockPort
from core.ports.inbox import MalformedUpdate
from core.ports.metrics import MetricsPort
from core.usecases.callbacks import ProcessCallbacks, ReceiveCallback
from core.usecases.cancel import CancelJob
from core.usecases.free_tier import FreeTier, ShowFreeTier
from core.usecases.generation import (
    ApplyTaskStatus,
    ConfirmGeneration,
    DeliverResult,
    FailJob,
    SubmitJob,
)
from core.usecases.history import JobHistory
from core.usecases.inbox_workers import InboxWorkers
from core.usecases.launch import LaunchJob
from core.usecases.pricing import QuotePrice, ShowBalance
from core.usecases.reconcile import ReconcileJobs
from core.usecases.referrals import AcceptReferral, Referrals, ShowInvite
from core.usecases.refunds import RefundStars
from core.usecases.runner import Doorbell, JobRunner
from core.usecases.topup import CheckPreCheckout, CreditStarsPayment, StarsOffer, StartTopUp
from core.usecases.users import RegisterUser, SetLanguage
from entrypoints.generation import make_account, make_generation, make_kie_client, make_uploader
from entrypoints.settings import Settings


async def telegram_bot(settings: Settings) -> AsyncIterator[Bot]:
    session = None
    if settings.telegram_api_base:
        server = TelegramAPIServer.from_base(settings.telegram_api_base.rstrip("/"))
        session = AiohttpSession(api=server)
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=None, link_preview_is_disabled=True),
    )
    try:
        yield bot
    finally:
        await bot.session.close()


async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client result downloads and Kie.ai share (one connection pool)."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=True)
    try:
        yield client
    finally:
        await client.aclose()


def make_pricing(settings: Settings) -> Pricing:
    return Pricing(
        currency=settings.billing_currency,
        credit_usd=settings.credit_usd,
        fx_rate=settings.fx_rate,
        markup=settings.markup,
    )


def make_catalog(settings: Settings) -> Catalog:
    return load_catalog(settings.catalog_dir or DEFAULT_DIR, frozenset(settings.hidden_models))


def make_dispatcher(services: BotServices, fsm_storage: BaseStorage) -> Dispatcher:
    dispatcher = Dispatcher(storage=fsm_storage)
    middleware = UserContextMiddleware(services)
    dispatcher.message.outer_middleware(middleware)
    dispatcher.callback_query.outer_middleware(middleware)
    dispatcher.pre_checkout_query.outer_middleware(middleware)
    dispatcher.include_router(build_router())
    return dispatcher


def dispatch_to(
    dispatcher: Dispatcher, bot: Bot
) -> Callable[[Mapping[str, Any]], Awaitable[None]]:
    """The inbox workers' handler: a raw stored update through aiogram's dispatcher.

    Exceptions propagate, so the worker retries or parks the update instead of losing it.
    """

    async def handle(raw: Mapping[str, Any]) -> None:
        with structlog.contextvars.bound_contextvars(
            update_id=raw.get("update_id"), user_id=user_id(raw)
        ):
            try:
                update = Update.model_validate(dict(raw), context={"bot": bot})
            except ValidationError as exc:
                raise MalformedUpdate(f"{exc.error_count()} validation error(s): {exc}") from None
            await dispatcher.feed_update(bot, update)

    return handle


def callback_deps(
    settings: Settings,
    clock: ClockPort,
    catalog: Catalog,
    receive: ReceiveCallback,
    process: ProcessCallbacks,
) -> KieCallbackDeps:
    key = settings.kie_webhook_hmac_key
    return KieCallbackDeps(
        clock=clock,
        catalog=catalog,
        receive=receive,
        process=process,
        hmac_key=key.get_secret_value() if key else None,
        tolerance_seconds=settings.kie_callback_tolerance_seconds,
    )


class Adapters(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    database = providers.DependenciesContainer()
    """The stateful adapters (``Database``, or an in-memory twin in tests)."""

    storage = database.storage
    payments = database.payments
    refunds = database.payments
    kie_callbacks = database.kie_callbacks
    referrals = database.referrals
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIds)
    pricing = providers.Singleton(make_pricing, settings)
    catalog = providers.Singleton(make_catalog, settings)
    translator = providers.Singleton(Translator)
    http = providers.Resource(http_client)
    kie_client = providers.Singleton(make_kie_client, settings, http)
    """Kie.ai's client in real mode (shared by the three roles below), None in stub mode."""
    generation = providers.Singleton(make_generation, settings, clock, catalog, kie_client)
    """GenerationPort: create a task, query its status."""
    uploader = providers.Singleton(make_uploader, kie_client)
    """UploaderPort: host the users' input files where the provider reads them."""
    account = providers.Singleton(make_account, kie_client)
    """AccountPort | None: the provider's credit balance (None: no account, stub mode)."""
    downloader = providers.Singleton(HttpxDownloader, http)
    sleep = providers.Object(asyncio.sleep)
    """How use cases wait between retries; tests put a clock-driven one in."""
    bot = providers.Resource(telegram_bot, settings)
    refunder = providers.Singleton(AiogramStarsRefunder, bot)
    """StarsRefunderPort: Telegram's refundStarPayment."""
    chat = providers.Singleton(
        AiogramChat,
        bot,
        translator,
        catalog,
        pricing,
        progress_gap=settings.provided.progress_edit_gap_seconds,
    )


class UseCases(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    adapters = providers.DependenciesContainer()

    register_user = providers.Singleton(
        RegisterUser,
        storage=adapters.storage,
        clock=adapters.clock,
        welcome_balance=settings.provided.welcome_balance,
    )
    set_language = providers.Singleton(SetLanguage, storage=adapters.storage)
    free_tier = providers.Singleton(
        FreeTier,
        storage=adapters.storage,
        clock=adapters.clock,
        daily_quota=settings.provided.free_daily_quota,
    )
    """The daily free generations on the catalog's free SKUs, taken by ``confirm``."""
    show_free_tier = providers.Singleton(
        ShowFreeTier, free_tier=free_tier, catalog=adapters.catalog
    )
    quote = providers.Singleton(
        QuotePrice,
        catalog=adapters.catalog,
        pricing=adapters.pricing,
        storage=adapters.storage,
        free_tier=free_tier,
    )
    show_balance = providers.Singleton(ShowBalance, storage=adapters.storage)
    history = providers.Singleton(JobHistory, storage=adapters.storage)
    cancel_job = providers.Singleton(
        CancelJob, storage=adapters.storage, chat=adapters.chat, clock=adapters.clock
    )
    referrals = providers.Singleton(
        Referrals,
        invite=providers.Singleton(
            ShowInvite, referrals=adapters.referrals, ids=adapters.ids, clock=adapters.clock
        ),
        accept=providers.Singleton(
            AcceptReferral,
            referrals=adapters.referrals,
            clock=adapters.clock,
            inviter_bonus=settings.provided.referral_bonus_inviter,
            invitee_bonus=settings.provided.referral_bonus_invitee,
        ),
    )
    stars_offer = providers.Singleton(
        StarsOffer,
        minor_per_star=settings.provided.stars_rate_minor,
        presets=settings.provided.stars_presets,
        min_stars=settings.provided.stars_min,
        max_stars=settings.provided.stars_max,
    )
    """What a Star buys and the amounts offered; the rate is fixed on each purchase."""
    start_topup = providers.Singleton(
        StartTopUp,
        payments=adapters.payments,
        offer=stars_offer,
        clock=adapters.clock,
        ids=adapters.ids,
    )
    check_pre_checkout = providers.Singleton(CheckPreCheckout, payments=adapters.payments)
    credit_stars = providers.Singleton(CreditStarsPayment, payments=adapters.payments)
    refund_stars = providers.Singleton(
        RefundStars, refunds=adapters.refunds, refunder=adapters.refunder, clock=adapters.clock
    )
    confirm = providers.Singleton(
        ConfirmGeneration,
        storage=adapters.storage,
        catalog=adapters.catalog,
        pricing=adapters.pricing,
        clock=adapters.clock,
        ids=adapters.ids,
        free_tier=free_tier,
    )
    doorbell = providers.Singleton(Doorbell)
    fail = providers.Singleton(
        FailJob, storage=adapters.storage, chat=adapters.chat, clock=adapters.clock
    )
    deliver = providers.Singleton(
        DeliverResult,
        storage=adapters.storage,
        downloader=adapters.downloader,
        chat=adapters.chat,
        clock=adapters.clock,
        fail=fail,
        max_bytes=settings.provided.telegram_upload_limit_bytes,
        max_attempts=settings.provided.delivery_max_attempts,
        sleep=adapters.sleep,
    )
    apply = providers.Singleton(
        ApplyTaskStatus,
        storage=adapters.storage,
        clock=adapters.clock,
        fail=fail,
        on_succeeded=doorbell.provided.ring,
    )
    receive_callback = providers.Singleton(
        ReceiveCallback,
        storage=adapters.storage,
        callbacks=adapters.kie_callbacks,
        clock=adapters.clock,
    )
    process_callbacks = providers.Singleton(
        ProcessCallbacks,
        storage=adapters.storage,
        callbacks=adapters.kie_callbacks,
        generation=adapters.generation,
        apply=apply,
        clock=adapters.clock,
    )
    submit = providers.Singleton(
        SubmitJob,
        storage=adapters.storage,
        generation=adapters.generation,
        catalog=adapters.catalog,
        clock=adapters.clock,
        fail=fail,
        chat=adapters.chat,
        callback_base=settings.provided.webhook_base_url,
        on_submitted=process_callbacks,
    )
    launch = providers.Singleton(
        LaunchJob,
        storage=adapters.storage,
        chat=adapters.chat,
        wake=doorbell.provided.ring,
    )
    runner = providers.Singleton(
        JobRunner,
        storage=adapters.storage,
        submit=submit,
        deliver=deliver,
        clock=adapters.clock,
        doorbell=doorbell,
    )
    """Every instance runs one (``run()`` in its task group): submissions and deliveries."""
    reconcile = providers.Singleton(
        ReconcileJobs,
        storage=adapters.storage,
        generation=adapters.generation,
        clock=adapters.clock,
        submit=submit,
        apply=apply,
        fail=fail,
        callbacks=adapters.kie_callbacks,
        process_callbacks=process_callbacks,
        catalog=adapters.catalog,
    )


class BotContainer(containers.DeclarativeContainer):
    """The parts every Telegram-facing runtime shares."""

    settings = providers.Dependency(instance_of=Settings)
    database = providers.DependenciesContainer()
    metrics = providers.Dependency(instance_of=MetricsPort)
    adapters = providers.Container(Adapters, settings=settings, database=database)
    usecases = providers.Container(UseCases, settings=settings, adapters=adapters)

    services = providers.Singleton(
        BotServices,
        storage=adapters.storage,
        catalog=adapters.catalog,
        pricing=adapters.pricing,
        translator=adapters.translator,
        register_user=usecases.register_user,
        set_language=usecases.set_language,
        quote=usecases.quote,
        confirm=usecases.confirm,
        launch=usecases.launch,
        show_balance=usecases.show_balance,
        history=usecases.history,
        cancel_job=usecases.cancel_job,
        stars_offer=usecases.stars_offer,
        start_topup=usecases.start_topup,
        check_pre_checkout=usecases.check_pre_checkout,
        credit_stars=usecases.credit_stars,
        payments=adapters.payments,
        refund_stars=usecases.refund_stars,
        referrals=usecases.referrals,
        free_tier=usecases.show_free_tier,
        account=adapters.account,
        admins=settings.provided.admins,
        uploader=adapters.uploader,
        download_limit=settings.provided.telegram_download_limit_bytes,
    )
    dispatcher = providers.Singleton(make_dispatcher, services, database.fsm_storage)
    workers = providers.Singleton(
        InboxWorkers,
        database.inbox,
        providers.Singleton(dispatch_to, dispatcher, adapters.bot),
        metrics,
        workers=settings.provided.inbox_workers,
        max_attempts=settings.provided.inbox_max_attempts,
        lease_seconds=settings.provided.inbox_lease_seconds,
    )
    """The inbox workers: every stored update, in order per chat, through the dispatcher."""
    callback_routes = providers.Singleton(
        kie_callback_routes,
        providers.Singleton(
            callback_deps,
            settings,
            adapters.clock,
            adapters.catalog,
            usecases.receive_callback,
            usecases.process_callbacks,
        ),
    )
    """The Kie.ai callback route, mounted on the running HTTP app once this exists."""
    commands = providers.Singleton(
        CommandMenu, adapters.bot, adapters.translator, settings.provided.admins
    )
    """The "/" command menu in every language, set by the lock holder."""
