-- Retention (index/store/retention.py) deletes old articles; their rows in these tables go by
-- ON DELETE CASCADE, which looks them up by article_id: without these indexes each deleted
-- article would scan the whole table.
CREATE INDEX article_changes_article ON article_changes(article_id);
-- (alert_articles' index is the chat layer's: bot/store/migrations/sqlite/0001_chat.sql.)
