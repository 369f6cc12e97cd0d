# Build a wheel, then install only the wheel: the image runs exactly what the package ships
# (migrations, locales and the catalog included) and holds no source tree that could hide a
# file missing from the package.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY adapters adapters
COPY entrypoints entrypoints
COPY migrations migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels && useradd --create-home kiebot
USER kiebot
# Writable by the bot: polling without DATABASE_URL keeps its embedded server under ./var.
WORKDIR /home/kiebot
ENV PORT=8080 PYTHONUNBUFFERED=1
EXPOSE 8080
# Webhook mode refuses to start without TELEGRAM_BOT_TOKEN, DATABASE_URL, WEBHOOK_BASE_URL and
# KIE_API_KEY (or an explicit KIE_MODE=stub); `kiebot check-config --mode webhook` says which.
CMD ["kiebot", "webhook"]
