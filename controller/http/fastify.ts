// Fastify's default export, typed for NodeNext ESM.
import fastify from 'fastify';
export type { FastifyInstance } from 'fastify';
export const Fastify = fastify;
