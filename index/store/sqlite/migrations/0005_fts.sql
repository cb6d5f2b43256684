-- Full-text index of the passages for BM25 retrieval (index/retrieve/search.py): rowid = passage_id,
-- the article's title beside the passage's text. Kept in step by Store.replace_passages.
CREATE VIRTUAL TABLE passages_fts USING fts5(
    title, text, tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO passages_fts (rowid, title, text)
    SELECT p.passage_id, a.title, p.text FROM passages p JOIN articles a ON a.article_id = p.article_id;
