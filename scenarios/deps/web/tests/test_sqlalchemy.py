from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Entry(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


def test_sqlalchemy_orm_round_trip():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Entry(key="pip"), Entry(key="venv")])
        session.commit()
        keys = session.scalars(select(Entry.key).order_by(Entry.key)).all()
    assert keys == ["pip", "venv"]
