FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY adapters adapters
COPY entrypoints entrypoints
COPY migrations migrations
RUN pip install --no-cache-dir . && useradd --create-home kiebot
USER kiebot
ENV PORT=8080
EXPOSE 8080
CMD ["kiebot", "webhook"]
