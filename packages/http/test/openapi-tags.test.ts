import { API_TAGS, openApiDocument, operation } from '../src';

describe('OpenAPI tags', () => {
  it("when the API's tags are listed, then no two are alike but for case or punctuation", () => {
    const keys = API_TAGS.map((tag) => tag.name.toLowerCase().replace(/[^a-z]/g, ''));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("when a document is built, then it declares the tags its operations use, in API_TAGS' order, with their descriptions", () => {
    const doc = openApiDocument('t', {
      '/api/v1/z': { get: operation({ summary: 'z', tags: ['Admin'], responses: { 200: { description: 'ok' } } }) },
      '/api/v1/a': { post: operation({ summary: 'a', tags: ['Auth'], responses: { 200: { description: 'ok' } } }) },
      '/api/v1/b': { get: operation({ summary: 'b', tags: ['Auth'], responses: { 200: { description: 'ok' } } }) },
    });
    expect(doc.tags).toEqual([
      API_TAGS.find((tag) => tag.name === 'Auth'),
      API_TAGS.find((tag) => tag.name === 'Admin'),
    ]);
  });
});
