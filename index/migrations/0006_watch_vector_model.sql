-- The model (with its embedding backend) a topic watch's description was embedded with, so a
-- change of model or backend re-embeds the description instead of comparing vectors of two
-- models. NULL: embedded before this was recorded (re-embedded at the next start).
ALTER TABLE watches ADD COLUMN vector_model TEXT;
