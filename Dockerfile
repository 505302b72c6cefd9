# One image for every service: `docker build --build-arg SERVICE=order-book .`
FROM node:20-bookworm-slim AS base
RUN npm install -g pnpm@12.4.2 && apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
ENV TURBO_TELEMETRY_DISABLED=1 PNPM_HOME=/pnpm
WORKDIR /app

FROM base AS build
COPY . .
RUN pnpm install --frozen-lockfile
# Generated Prisma clients are not committed; generate needs DATABASE_URL set to any value.
RUN DATABASE_URL=postgresql://build@localhost/build pnpm turbo run build

FROM base AS runtime
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE}
COPY --from=build /app /app
WORKDIR /app/services/${SERVICE}
USER node
CMD ["node", "--enable-source-maps", "dist/index.js"]
