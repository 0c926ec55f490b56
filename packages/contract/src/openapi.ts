import { z } from 'zod'
import { ERROR_CODES } from './errors.js'
import { ROUTES, type RouteDef } from './routes.js'
import { MSGPACK_MEDIA_TYPE } from './metric-wire.js'
import { ErrorBodySchema } from './schemas.js'

type JsonSchema = Record<string, unknown>

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // `unrepresentable: 'any'` keeps lazy and transformed schemas from throwing while documenting.
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'openapi-3.0' })
}

function queryParameters(route: RouteDef): JsonSchema[] {
  if (!route.query) return []
  const json = toSchema(route.query, 'input')
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>
  const required = new Set((json.required ?? []) as string[])
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema,
  }))
}

function pathParameters(path: string): JsonSchema[] {
  const names = [...path.matchAll(/:([A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1])
  const params: JsonSchema[] = names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }))
  if (path.endsWith('*')) params.push({ name: 'path', in: 'path', required: true, schema: { type: 'string' } })
  return params
}

function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z][A-Za-z0-9]*)/g, '{$1}').replace(/\*$/, '{path}')
}

/** Builds the OpenAPI 3.0 document of the API from the route table, so the two never disagree. */
export function buildOpenApiDocument(options: { version: string; serverUrl?: string }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {}
  const errorResponse = { description: 'Error', content: { 'application/json': { schema: toSchema(ErrorBodySchema, 'output') } } }
  for (const [name, route] of Object.entries(ROUTES) as [string, RouteDef][]) {
    const key = openApiPath(route.path)
    const operation: Record<string, unknown> = {
      operationId: name,
      summary: route.summary,
      parameters: [...pathParameters(route.path), ...queryParameters(route)],
      responses: {
        [String(route.status ?? 200)]: {
          description: 'Success',
          content:
            route.response === 'binary'
              ? { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
              : { 'application/json': { schema: toSchema(route.response, 'output') } },
        },
        ...(route.alsoStatus
          ? {
              [String(route.alsoStatus.status)]: {
                description: `Success: ${route.alsoStatus.when}`,
                content: { 'application/json': { schema: toSchema(route.response as z.ZodType, 'output') } },
              },
            }
          : {}),
        '4XX': errorResponse,
        '5XX': errorResponse,
      },
    }
    if (route.body === 'binary') {
      operation.requestBody = {
        required: true,
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      }
    } else if (route.body) {
      const schema = toSchema(route.body, 'input')
      operation.requestBody = {
        required: true,
        content: {
          'application/json': { schema },
          // The same shape, with number columns optionally float64 bytes (decision 0029).
          ...(route.msgpackBody ? { [MSGPACK_MEDIA_TYPE]: { schema } } : {}),
        },
      }
    }
    paths[key] = { ...paths[key], [route.method.toLowerCase()]: operation }
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Wharf API',
      version: options.version,
      description: `Run history and datastores. Error codes: ${Object.keys(ERROR_CODES).join(', ')}.`,
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }, {}],
    paths,
  }
}
