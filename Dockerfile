# One image for the api, the worker and the gateway (docker-compose.yml picks the command).
# Debian (glibc), not Alpine: the Temporal worker's native core-bridge ships glibc binaries.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
# Compile, then prebuild the workflow bundle so a worker starts without running webpack.
RUN npx tsc -p tsconfig.build.json && node dist/worker/build-bundle.js

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only; `npm ci` never rewrites the lockfile, which the bundle's stamp hashes.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && npm cache clean --force
COPY --from=build /app/dist ./dist
# The sources stay beside dist/: the worker compares the bundle's stamp with workflows/ and domain/
# at start, so the image's sources must be the ones the bundle was built from.
COPY . .
USER node
# Overridden per service in docker-compose.yml.
CMD ["node", "dist/api/server.js"]
