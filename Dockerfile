# One image for every Sluice service; the Deployment's args pick the entry point.
#   docker build -t sluice .   (deploy/k8s/base refers to it as `sluice`)
# The Node.js release of .node-version, which make and CI run on (deploy/node-version.unit.spec.ts keeps them equal).
ARG NODE_VERSION=24.22.3
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# patch-package applies patches/ on install (postinstall).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
USER node
ENTRYPOINT ["node", "--enable-source-maps"]
